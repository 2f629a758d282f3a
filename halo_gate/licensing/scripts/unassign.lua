-- Takes a named seat back; the seat stays quarantined for the cooldown so that it cannot be
-- passed between people as a floating licence. The person's live sessions move to the pool
-- while a slot is free, else they end (without a tombstone: they come back when one frees).
-- KEYS[1] the person's sessions hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] person, ARGV[3] who unassigned it.
-- Returns 1 if the person held a seat, else 0.
cull(true)
local person = ARGV[2]
if redis.call('SREM', K_NAMED, person) == 0 then return 0 end
redis.call('ZADD', K_QUARANTINE, NOW + COOLDOWN, person)
audit('unassigned', person, 'named', '', ARGV[3])
if prune(person, K_SESSIONS, 'named') > 0 then
  local capacity = capacities()
  if in_use() < capacity then
    settle(person, K_SESSIONS, 'concurrent')
  else
    for _, id in ipairs(redis.call('HKEYS', K_SESSIONS)) do
      audit('ended', person, 'named', id, 'unassigned')
    end
    redis.call('DEL', K_SESSIONS)
    redis.call('ZREM', K_ACTIVE, person)
  end
end
return 1
