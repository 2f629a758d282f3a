-- Records the pool's and the named seats' capacity when it differs from the last recorded, so
-- the console can draw capacity as it was at each time. Entries older than the retention go,
-- except the newest of them: the capacity in force when the retained period began.
-- KEYS[1] capacity_log (ZSET "at concurrent named" -> at, ms).
-- ARGV[1] clock offset (ms), ARGV[2] concurrent slots, ARGV[3] named seats, ARGV[4] retention
-- (ms).
-- Returns 1 when a change was recorded, else 0.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1)
local values = ARGV[2] .. ' ' .. ARGV[3]
if last[1] and string.match(last[1], '^%d+ (.*)$') == values then return 0 end
redis.call('ZADD', KEYS[1], now, now .. ' ' .. values)
local cutoff = now - tonumber(ARGV[4])
local before = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. cutoff, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
if before[2] then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. before[2]) end
return 1
