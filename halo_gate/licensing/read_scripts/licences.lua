-- The licence holders, one page at a time: named people first, then the pool's, each most
-- recently active first. A holder's score is the expiry of their latest session, so the live
-- holders are the highest scores and a page is a range of ranks: O(log n + page), whatever the
-- number of holders or of expired entries not yet culled.
-- KEYS[1] active (ZSET named person -> expiry, ms), KEYS[2] pool (ZSET concurrent person ->
-- expiry, ms).
-- ARGV[1] clock offset (ms, added to Redis TIME; 0 outside tests), ARGV[2] offset (holders to
-- skip), ARGV[3] limit (holders to return).
-- Returns {now_ms, named holders, concurrent holders, then person, licence, expiry_ms for each
-- holder of the page}.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[1])
local first, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local reply = {now, 0, 0}
local before = 0 -- holders of the licences already walked
for i, licence in ipairs({'named', 'concurrent'}) do
  local live = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
  reply[i + 1] = live
  local from = math.max(first - before, 0)
  local to = math.min(first + limit - before, live) - 1
  if to >= from then
    local page = redis.call('ZREVRANGE', KEYS[i], from, to, 'WITHSCORES')
    for j = 1, #page, 2 do
      table.insert(reply, page[j])
      table.insert(reply, licence)
      table.insert(reply, page[j + 1])
    end
  end
  before = before + live
end
return reply
