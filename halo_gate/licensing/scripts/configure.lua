-- Applies the deployment's settings at startup. A capacity changes only when the deployment's
-- value differs from the one last applied, so a resize by an administrator survives restarts
-- of other workers. People listed for named seats are given one while seats are free.
-- KEYS, ARGV[1..7]: see common.lua.
-- ARGV[8] concurrent slots, ARGV[9] named seats, ARGV[10..] people listed for named seats.
-- Returns {concurrent, named, listed people left without a seat...}.
cull()
local changed = false
for _, setting in ipairs({{'concurrent', ARGV[8]}, {'named', ARGV[9]}}) do
  local name, value = setting[1], setting[2]
  if redis.call('HGET', K_CONFIG, 'env_' .. name) ~= value then
    redis.call('HSET', K_CONFIG, name, value, 'env_' .. name, value)
    changed = true
  end
end
local concurrent, named = capacities()
if changed then
  audit('resized', '', '', '', 'settings concurrent=' .. concurrent .. ' named=' .. named)
end
local reply = {concurrent, named}
for i = 10, #ARGV do
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
