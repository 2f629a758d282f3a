-- Takes a named seat back; the seat stays quarantined for the cooldown so that it cannot be
-- passed between people as a floating licence. The person's live sessions move to the pool
-- while a slot is free, else they end (without a tombstone: they come back when one frees).
-- Under pool rules they always end that way: the slot's charge depends on the person's groups,
-- which only their next admission (at the next heartbeat) brings.
-- KEYS: sessions config pool active named quarantine ended audit audit_people holder_names counters charges history
--       record
-- ARGV: [1] the settings (see context.lua), [2] person, [3] who unassigned it.
-- Returns {1, ids of the sessions ended...} if the person held a seat (the engine announces
-- the ended sessions to every worker), else {0}.
cull(true)
local person = ARGV[2]
if redis.call('SREM', K.named, person) == 0 then return {0} end
redis.call('ZADD', K.quarantine, NOW + COOLDOWN, person)
audit('unassigned', person, 'named', '', ARGV[3])
local reply = {1}
if prune(person, K.sessions, 'named') > 0 then
  local capacity = capacities()
  if capacity_cache[4] == '0' and in_use() < capacity then
    settle(person, K.sessions, 'concurrent')
  else
    local all = redis.call('HGETALL', K.sessions)
    for i = 1, #all, 2 do
      audit('ended', person, 'named', all[i], 'unassigned')
      closed(person, 'named', all[i + 1], NOW, 'unassigned')
      table.insert(reply, all[i])
    end
    redis.call('DEL', K.sessions)
    redis.call('ZREM', K.active, person)
    note_holder(person, false)
  end
end
return reply
