-- Renews a live session and the person's slot: what a heartbeat nearly always is. It reads the
-- session and the person's entry, never all their sessions, and declares only the keys that
-- needs. Any other case (the session lost, ended, idled out or past its maximum age, the
-- person's licence changed) is answered 'decide', and the engine calls heartbeat.lua, which
-- decides them all.
-- KEYS: sessions config pool active charges
-- ARGV: [1] the settings (see context.lua), [2] person, [3] session id, [4] '1' when the
--       person is in a named group, [5] the generation of pool rules the caller knows.
-- Returns {'renewed', licence, expires_at_ms, capacity, in_use, 0}, else {'decide'}.
-- An UNCONFIGURED or POOLS error as for admit.lua (see admission.lua).
local found = redis.call('HMGET', K.sessions, ARGV[3], CHARGE)
if not found[1] then return {'decide'} end
local expiry, created = string.match(found[1], '^(%d+) (%d+)$')
expiry, created = tonumber(expiry), tonumber(created)
if expiry <= NOW or created + MAX_AGE <= NOW then return {'decide'} end
return renew(ARGV[2], ARGV[3], created, found[2], ARGV[4], ARGV[5]) or {'decide'}
