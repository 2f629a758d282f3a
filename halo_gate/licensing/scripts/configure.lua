-- Applies the deployment's settings at startup. A capacity changes only when the deployment's
-- value differs from the one last applied, so a resize by an administrator survives restarts
-- of other workers; so do the pool rules (reservations, caps), each as a whole.
-- People listed for named seats are given one while seats are free.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] concurrent slots, ARGV[3] named seats, ARGV[4] reservations ("group=N,...", or ''),
-- ARGV[5] caps (likewise), ARGV[6..] people listed for named seats.
-- Returns {concurrent, named, pool rules' generation, reservations, caps,
--          listed people left without a seat...}.
cull(true)
local changed, rules_changed = false, false
local reserve, cap = pool_lib().texts()
local settings = {{'concurrent', ARGV[2]}, {'named', ARGV[3]}, {'reserve', ARGV[4]},
  {'cap', ARGV[5]}}
for _, setting in ipairs(settings) do
  local name, value = setting[1], setting[2]
  if redis.call('HGET', K_CONFIG, 'env_' .. name) ~= value then
    redis.call('HSET', K_CONFIG, 'env_' .. name, value)
    if name == 'reserve' then
      rules_changed, reserve = rules_changed or reserve ~= value, value
    elseif name == 'cap' then
      rules_changed, cap = rules_changed or cap ~= value, value
    else
      redis.call('HSET', K_CONFIG, name, value)
    end
    changed = true
  end
end
if rules_changed then pool_lib().set(reserve, cap) end
forget_capacities()
local concurrent, named = capacities()
if changed then
  audit('resized', '', '', '', 'settings concurrent=' .. concurrent .. ' named=' .. named ..
    ' reserve=' .. reserve .. ' cap=' .. cap)
end
local reply = {concurrent, named, capacity_cache[4], reserve, cap}
for i = 6, #ARGV do
  local person = ARGV[i]
  if redis.call('SISMEMBER', K_NAMED, person) == 0 then
    if seat_free_for(person) then
      take_seat(person, 'settings')
      if redis.call('EXISTS', sessions_key(person)) == 1 then
        settle(person, sessions_key(person), 'named')
      end
    else
      table.insert(reply, person)
    end
  end
end
return reply
