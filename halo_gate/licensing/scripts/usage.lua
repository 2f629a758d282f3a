-- The usage numbers, counting live entries only.
-- KEYS: config pool active named quarantine ended audit counters charges history
--       history_before queue waiting offers waiters
-- ARGV: [1] the settings (see context.lua).
-- Returns {named_seats, assigned, active, quarantined, concurrent_seats, in_use, peak_24h,
--          denials_24h, queue length, longest wait in the queue (ms)}, then for each group
--          that has pool rules or holds slots under them: name, reserved, cap (-1 for none),
--          in_use (slots its members hold), in_reserve (charged to its reservation), in_shared
--          (members charged to the shared part), denials_24h (of its members).
cull(true)
local concurrent, named = capacities()
local used = in_use()
local peak, denials = used, 0
local since = math.floor(NOW / 60000) - 1440
local group_denials = {}
for _, key in ipairs({K.history_before, K.history}) do
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local kind, minute, group = string.match(fields[i], '^(%a)(%d+) ?(.*)$')
    if tonumber(minute) > since then
      local value = tonumber(fields[i + 1])
      if kind == 'p' and value > peak then peak = value end
      if kind == 'd' then denials = denials + value end
      if kind == 'g' then group_denials[group] = (group_denials[group] or 0) + value end
    end
  end
end
local reply = {named, redis.call('SCARD', K.named),
  redis.call('ZCOUNT', K.active, '(' .. NOW, '+inf'),
  redis.call('ZCOUNT', K.quarantine, '(' .. NOW, '+inf'), concurrent, used, peak, denials}
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
  table.insert(reply, group)
  table.insert(reply, rules.reserve[group] or 0)
  table.insert(reply, rules.cap[group] or -1)
  table.insert(reply, use['m:' .. group])
  table.insert(reply, use['r:' .. group])
  table.insert(reply, use['s:' .. group])
  table.insert(reply, group_denials[group] or 0)
end
return reply
