-- The usage numbers, counting live entries only.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- Returns {named_seats, assigned, active, quarantined, concurrent_seats, in_use, peak_24h,
--          denials_24h, queue length, longest wait in the queue (ms)}, then for each group that has pool rules or holds slots under them:
--          name, reserved, cap (-1 for none), in_use (slots its members hold), in_reserve
--          (charged to its reservation), in_shared (members charged to the shared part),
--          denials_24h (of its members).
cull(true)
-- The groups' counters count a holder until the holder is culled.
pool_lib().cull_expired()
local concurrent, named = capacities()
local used = in_use()
local peak, denials = used, 0
local since = math.floor(NOW / 60000) - 1440
local today = math.floor(since / 1440) + 1
for day = today - 1, today do
  local fields = redis.call('HGETALL', PREFIX .. 'history:' .. day)
  for i = 1, #fields, 2 do
    local kind, minute = string.sub(fields[i], 1, 1), tonumber(string.sub(fields[i], 2))
    if minute > since then
      local value = tonumber(fields[i + 1])
      if kind == 'p' and value > peak then peak = value end
      if kind == 'd' then denials = denials + value end
    end
  end
end
local reply = {named, redis.call('SCARD', K_NAMED), redis.call('ZCOUNT', K_ACTIVE, '(' .. NOW, '+inf'),
  redis.call('ZCOUNT', K_QUARANTINE, '(' .. NOW, '+inf'), concurrent, used, peak, denials}
local line = queue_lib().summary()
table.insert(reply, line[1])
table.insert(reply, line[2])

local rules = pool_lib().rules() or {order = {}, capped = {}, reserve = {}, cap = {}}
local groups, listed, counts = {}, {}, {}
local function list(group)
  if not listed[group] then
    listed[group] = true
    table.insert(groups, group)
  end
end
for _, group in ipairs(rules.order) do list(group) end
for _, group in ipairs(rules.capped) do list(group) end
local use = redis.call('HGETALL', K_POOL_USE)
for i = 1, #use, 2 do
  counts[use[i]] = tonumber(use[i + 1])
  -- A group whose rules were removed is shown while its members still hold slots.
  local group = string.match(use[i], '^m:(.*)$')
  if group and counts[use[i]] > 0 then list(group) end
end
local group_denials = {}
for day = today - 1, today do
  local fields = redis.call('HGETALL', PREFIX .. 'group_history:' .. day)
  for i = 1, #fields, 2 do
    local minute, group = string.match(fields[i], '^(%d+) (.*)$')
    if tonumber(minute) > since then
      group_denials[group] = (group_denials[group] or 0) + tonumber(fields[i + 1])
    end
  end
end
for _, group in ipairs(groups) do
  table.insert(reply, group)
  table.insert(reply, rules.reserve[group] or 0)
  table.insert(reply, rules.cap[group] or -1)
  table.insert(reply, counts['m:' .. group] or 0)
  table.insert(reply, counts['r:' .. group] or 0)
  table.insert(reply, counts['s:' .. group] or 0)
  table.insert(reply, group_denials[group] or 0)
end
return reply
