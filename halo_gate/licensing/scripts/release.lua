-- Ends a session at logout; the person's slot goes with their last session. The session
-- leaves a tombstone, so a copy of its cookie presented later must sign in again instead of
-- being admitted afresh as a lost session. The closed session is recorded (see trail.lua).
-- A person waiting in the line (whose session holds nothing yet) leaves it.
-- KEYS: sessions config pool active ended audit audit_people holder_names counters charges history record queue waiting
--       offers waiters queue_classes queue_lines
-- ARGV: [1] the settings (see context.lua), [2] person, [3] session id, [4] '1' when the
--       gateway gave up waiting for the session's admission: its id is then also marked
--       abandoned ('~' and the id in the ended set, a character no session id has), so that
--       admission, should it arrive later, takes no slot.
-- Returns 1 if the session was live, else 0.
cull()
local person, session = ARGV[2], ARGV[3]
-- A logout leaves a tombstone, and takes away (boundedly) those that have ended.
cull_zset(K.ended)
end_marker(session)
if ARGV[4] == '1' then
  end_marker('~' .. session)
else
  -- Signing out leaves the line (an abandoned sign-in's id does not take a place away).
  Q.leave(person, 'left')
end
local value = redis.call('HGET', K.sessions, session)
if not value then return 0 end
redis.call('HDEL', K.sessions, session)
local licence = held_licence(person)
settle(person, K.sessions, licence)
audit('released', person, licence, session)
closed(person, licence, value, NOW, 'logout')
return 1
