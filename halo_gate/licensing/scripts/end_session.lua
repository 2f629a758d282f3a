-- Ends one session of a person, or all of them, for an administrator. Each ended session
-- leaves a tombstone so that its cookie, if presented again, must sign in anew.
-- KEYS[1] the person's sessions hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] person, ARGV[3] session id ('' for all the person's sessions), ARGV[4] who ended it.
-- Returns the number of live sessions ended.
cull(true)
local person, only, by = ARGV[2], ARGV[3], ARGV[4]
local licence = held_licence(person)
local ids = {only}
if only == '' then ids = redis.call('HKEYS', K_SESSIONS) end
local ended = 0
for _, id in ipairs(ids) do
  end_marker(id)
  if redis.call('HDEL', K_SESSIONS, id) == 1 then
    ended = ended + 1
    audit('ended', person, licence, id, by)
  end
end
settle(person, K_SESSIONS, licence)
return ended
