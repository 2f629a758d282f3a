-- Ends one session of a person, or all of them, for an administrator. Each ended session
-- leaves a tombstone so that its cookie, if presented again, must sign in anew, and is recorded
-- (see closed() in trail.lua).
-- KEYS: sessions config pool active quarantine ended audit audit_people holder_names counters charges history record
-- ARGV: [1] the settings (see context.lua), [2] person, [3] session id ('' for all the
--       person's sessions), [4] who ended it.
-- Returns the ids of the live sessions ended (the engine announces them to every worker).
cull(true)
local person, only, by = ARGV[2], ARGV[3], ARGV[4]
local licence = held_licence(person)
local ids = {only}
if only == '' then ids = redis.call('HKEYS', K.sessions) end
local ended = {}
for _, id in ipairs(ids) do
  -- The slot's charge record is not a session; settle() gives it back with the last one.
  if id ~= CHARGE then
    end_marker(id)
    local value = redis.call('HGET', K.sessions, id)
    if value then
      redis.call('HDEL', K.sessions, id)
      table.insert(ended, id)
      audit('ended', person, licence, id, by)
      closed(person, licence, value, NOW, 'admin')
    end
  end
end
settle(person, K.sessions, licence)
return ended
