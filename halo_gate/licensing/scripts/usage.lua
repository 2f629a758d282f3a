-- The usage numbers, counting live entries only.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- Returns {named_seats, assigned, active, quarantined, concurrent_seats, in_use, peak_24h,
--          denials_24h}.
cull(true)
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
return {named, redis.call('SCARD', K_NAMED), redis.call('ZCOUNT', K_ACTIVE, '(' .. NOW, '+inf'),
  redis.call('ZCOUNT', K_QUARANTINE, '(' .. NOW, '+inf'), concurrent, used, peak, denials}
