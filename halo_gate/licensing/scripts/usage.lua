-- The usage numbers, counting live entries only.
-- KEYS: config pool active named quarantine ended audit audit_people holder_names counters charges history
--       history_before queue waiting offers waiters queue_classes queue_lines queue_refused
-- ARGV: [1] the settings (see context.lua).
-- Returns {named_seats, assigned, active, quarantined, concurrent_seats, in_use, peak_24h,
--          denials_24h, harvested_24h (people whose idle slot was harvested), queue length,
--          longest wait in the queue (ms)}, then for each group that has pool rules or holds
--          slots under them: name, reserved, cap (-1 for none), in_use (slots its members
--          hold), in_reserve (charged to its reservation), in_shared (members charged to the
--          shared part), denials_24h (of its members).
cull(true)
local concurrent, named = capacities()
local used = in_use()
-- The last 24 hours are the current hour and the 23 before it, some of them yesterday's.
local hour = math.floor(NOW / 3600000)
local first_today = math.floor(NOW / DAY_MS) * 24
local hours = {}
for h = hour - 23, hour do table.insert(hours, h) end
-- The hourly fields `kind` .. h (.. suffix) of the last 24 hours, read in one call per day.
local function hourly(kind, suffix)
  local today, before = {}, {}
  for _, h in ipairs(hours) do
    table.insert(h >= first_today and today or before, kind .. h .. suffix)
  end
  local values = redis.call('HMGET', K.history, unpack(today))
  if #before > 0 then
    for _, value in ipairs(redis.call('HMGET', K.history_before, unpack(before))) do
      table.insert(values, value)
    end
  end
  return values
end
-- Their sum.
local function total(kind, suffix)
  local sum = 0
  for _, value in ipairs(hourly(kind, suffix)) do sum = sum + (tonumber(value) or 0) end
  return sum
end
local peak = used
for _, value in ipairs(hourly('P', '')) do peak = math.max(peak, tonumber(value) or 0) end
local reply = {named, redis.call('SCARD', K.named),
  redis.call('ZCOUNT', K.active, '(' .. NOW, '+inf'),
  redis.call('ZCOUNT', K.quarantine, '(' .. NOW, '+inf'), concurrent, used, peak,
  total('D', ''), total('H', '')}
local line = Q.summary()
table.insert(reply, line[1])
table.insert(reply, line[2])

local rules = P.rules() or {order = {}, capped = {}, reserve = {}, cap = {}}
local use = P.use(rules)
local groups, listed = {}, {}
local function list(group)
  if not listed[group] then
    listed[group] = true
    table.insert(groups, group)
  end
end
for _, group in ipairs(rules.order) do list(group) end
for _, group in ipairs(rules.capped) do list(group) end
-- A group whose rules were removed is shown while its members still hold slots.
local numbered = {}
for group in pairs(P.numbers()) do table.insert(numbered, group) end
table.sort(numbered)
for _, group in ipairs(numbered) do
  if use['m:' .. group] > 0 then list(group) end
end
for _, group in ipairs(groups) do
  local group_denials = total('G', ' ' .. group)
  table.insert(reply, group)
  table.insert(reply, rules.reserve[group] or 0)
  table.insert(reply, rules.cap[group] or -1)
  table.insert(reply, use['m:' .. group])
  table.insert(reply, use['r:' .. group])
  table.insert(reply, use['s:' .. group])
  table.insert(reply, group_denials)
end
return reply
