-- Takes a person out of the waiting line for an administrator. The sessions they were waiting
-- with (noted at sign-in, holding nothing yet) are ended too, so their next poll asks them to
-- sign in again instead of taking a new place at the back of the line.
-- KEYS[1] queue (ZSET person -> ticket), KEYS[2] waiting (ZSET person -> end of their place),
-- KEYS[3] offers (ZSET), KEYS[4] waiters (HASH), KEYS[5] config (HASH: queue_len, concurrent),
-- KEYS[6] audit (STREAM), KEYS[7] pool (ZSET), KEYS[8] ended (ZSET session id -> end of its
-- tombstone), KEYS[9] the person's sessions (HASH), KEYS[10] the person's noted sessions
-- (ZSET devices:P), KEYS[11] audit_people (ZSET: the audit stream's index by person).
-- ARGV[1] clock offset (ms), ARGV[2] person, ARGV[3] who removes them, ARGV[4] the audit
-- stream's cap, ARGV[5] a tombstone's life (ms: the longer of the idle timeout and the maximum
-- age, as the decision scripts give it).
-- Returns {1 when the person was waiting (else 0), the waiting session ids ended...}.
-- The audit entry has the fields of every other (see common.lua's audit()).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[1])
local person, by = ARGV[2], ARGV[3]
if redis.call('ZREM', KEYS[1], person) == 0 then return {0} end
redis.call('ZREM', KEYS[2], person)
redis.call('ZREM', KEYS[3], person)
redis.call('HDEL', KEYS[4], person)
-- The line's length as every admission reads it (see queue.lua's counted()).
redis.call('HSET', KEYS[5], 'queue_len', redis.call('ZCARD', KEYS[1]))
local reply = {1}
for _, id in ipairs(redis.call('ZRANGE', KEYS[10], 0, -1)) do
  if redis.call('HEXISTS', KEYS[9], id) == 0 then
    redis.call('ZADD', KEYS[8], now + tonumber(ARGV[5]), id)
    table.insert(reply, id)
  end
end
local id = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], '*', 'event', 'dequeued', 'at', now,
  'user', person, 'licence', 'concurrent', 'session', '', 'reason', 'removed by ' .. by,
  'in_use', redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf'),
  'capacity', tonumber(redis.call('HGET', KEYS[5], 'concurrent')) or 0)
-- Indexed as trail.lua's index_entry() does (whose sweep removes members of trimmed entries).
local ms, seq = string.match(id, '^(%d+)-(%d+)$')
redis.call('ZADD', KEYS[11], 0, person .. '\0' .. string.rep('0', 20 - #ms) .. ms .. '-' ..
  string.rep('0', 20 - #seq) .. seq)
return reply
