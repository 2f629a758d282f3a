-- Applies the deployment's settings at startup. A capacity changes only when the deployment's
-- value differs from the one last applied, so a resize by an administrator survives restarts
-- of other workers. People listed for named seats are given one while seats are free.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] concurrent slots, ARGV[3] named seats, ARGV[4..] people listed for named seats.
-- Returns {concurrent, named, listed people left without a seat...}.
cull(true)
local changed = false
for _, setting in ipairs({{'concurrent', ARGV[2]}, {'named', ARGV[3]}}) do
  local name, value = setting[1], setting[2]
  if redis.call('HGET', K_CONFIG, 'env_' .. name) ~= value then
    redis.call('HSET', K_CONFIG, name, value, 'env_' .. name, value)
    changed = true
  end
end
forget_capacities()
local concurrent, named = capacities()
if changed then
  audit('resized', '', '', '', 'settings concurrent=' .. concurrent .. ' named=' .. named)
end
local reply = {concurrent, named}
for i = 4, #ARGV do
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
