-- Ends one session of a person, or all of them, for an administrator. Each ended session
-- leaves a tombstone so that its cookie, if presented again, must sign in anew, and is recorded
-- (see closed()).
-- KEYS[1] the person's sessions hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] person, ARGV[3] session id ('' for all the person's sessions), ARGV[4] who ended it.
-- Returns the ids of the live sessions ended (the engine announces them to every worker).
cull(true)
local person, only, by = ARGV[2], ARGV[3], ARGV[4]
local licence = held_licence(person)
local ids = {only}
if only == '' then ids = redis.call('HKEYS', K_SESSIONS) end
local ended = {}
for _, id in ipairs(ids) do
  -- The slot's charge record is not a session; settle() gives it back with the last one.
  if id ~= CHARGE then
    end_marker(id)
    local value = redis.call('HGET', K_SESSIONS, id)
    if value then
      redis.call('HDEL', K_SESSIONS, id)
      table.insert(ended, id)
      audit('ended', person, licence, id, by)
      closed(person, licence, value, NOW, 'admin')
    end
  end
end
settle(person, K_SESSIONS, licence)
return ended
