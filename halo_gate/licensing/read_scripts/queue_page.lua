-- The waiting line, one page at a time, in the order it is served: O(log n + page).
-- KEYS[1] queue (ZSET person -> ticket), KEYS[2] waiting (ZSET person -> end of their place,
-- ms), KEYS[3] offers (ZSET person -> end of the slot offered to them, ms), KEYS[4] waiters
-- (HASH person -> "joined_ms" then their groups under the pool rules, one per line).
-- ARGV[1] clock offset (ms), ARGV[2] offset, ARGV[3] limit.
-- Returns {now_ms, length, then person, waiter record, end of place (ms), offer end (ms, 0:
-- none) for each of the page}. A waiter whose place has ended is still listed until an
-- admission drops them (see queue.lua): the end of their place says so.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[1])
local first, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local reply = {now, redis.call('ZCARD', KEYS[1])}
for _, person in ipairs(redis.call('ZRANGE', KEYS[1], first, first + limit - 1)) do
  table.insert(reply, person)
  table.insert(reply, redis.call('HGET', KEYS[4], person) or '')
  table.insert(reply, redis.call('ZSCORE', KEYS[2], person) or 0)
  table.insert(reply, redis.call('ZSCORE', KEYS[3], person) or 0)
end
return reply
