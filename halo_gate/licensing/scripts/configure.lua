-- Applies the deployment's settings at startup. A capacity changes only when the deployment's
-- value differs from the one last applied, so a resize by an administrator survives restarts
-- of other workers; so do the pool rules (reservations, caps), each as a whole.
-- People listed for named seats are given one while seats are free.
-- KEYS: config pool active named quarantine ended audit audit_people holder_names counters charges history record
--       people...
-- ARGV: [1] the settings (see context.lua), [2] concurrent slots, [3] named seats,
--       [4] reservations ("group=N,...", or ''), [5] caps (likewise), [6..] people listed for
--       named seats (people: their sessions hashes, in the same order).
-- Returns {concurrent, named, pool rules' generation, reservations, caps,
--          listed people left without a seat...}.
cull(true)
local changed, rules_changed = false, false
local reserve, cap = P.texts()
local settings = {{'concurrent', ARGV[2]}, {'named', ARGV[3]}, {'reserve', ARGV[4]},
  {'cap', ARGV[5]}}
for _, setting in ipairs(settings) do
  local name, value = setting[1], setting[2]
  if redis.call('HGET', K.config, 'env_' .. name) ~= value then
    redis.call('HSET', K.config, 'env_' .. name, value)
    if name == 'reserve' then
      rules_changed, reserve = rules_changed or reserve ~= value, value
    elseif name == 'cap' then
      rules_changed, cap = rules_changed or cap ~= value, value
    else
      redis.call('HSET', K.config, name, value)
    end
    changed = true
  end
end
if rules_changed then
  local refused = P.set(reserve, cap)
  if refused then return refused end
end
forget_capacities()
local concurrent, named = capacities()
if changed then
  audit('resized', '', '', '', 'settings concurrent=' .. concurrent .. ' named=' .. named ..
    ' reserve=' .. reserve .. ' cap=' .. cap)
end
local reply = {concurrent, named, capacity_cache[4], reserve, cap}
for i = 6, #ARGV do
  local person, skey = ARGV[i], K.people[i - 5]
  if redis.call('SISMEMBER', K.named, person) == 0 then
    if seat_free_for(person) then
      take_seat(person, 'settings')
      if redis.call('EXISTS', skey) == 1 then settle(person, skey, 'named') end
    else
      table.insert(reply, person)
    end
  end
end
return reply
