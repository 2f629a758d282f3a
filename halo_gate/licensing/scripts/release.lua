-- Ends a session at logout; the person's slot goes with their last session.
-- KEYS, ARGV[1..7]: see common.lua; KEYS[8] is the person's sessions hash.
-- ARGV[8] person, ARGV[9] session id.
-- Returns 1 if the session was live, else 0.
cull()
local person, session = ARGV[8], ARGV[9]
if redis.call('HDEL', K_SESSIONS, session) == 0 then return 0 end
local licence = held_licence(person)
settle(person, K_SESSIONS, licence)
audit('released', person, licence, session)
return 1
