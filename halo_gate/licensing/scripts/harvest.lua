-- Harvesting idle licences: when a person asks for a pool slot and none is free to them, the
-- holder idle longest past the threshold (HARVEST, ms; 0: off) yields theirs, inside the same
-- admission.
--
-- Idleness is read from pool, whose score is the expiry of a holder's latest session: each
-- renewal sets it one idle timeout ahead, so a holder with no renewal for HARVEST or longer
-- scores at most NOW + IDLE - HARVEST, and the longest idle score lowest (O(log n) to find).
-- A session within one idle timeout of its maximum age has its expiry capped there, which says
-- nothing of its last renewal: its holder is never harvested (their slot frees by then).
-- A harvest ends the holder's sessions, which are keys a call must declare: an admission that
-- would harvest answers {'harvest', person...} (at most CANDIDATES, longest idle first) having
-- changed nothing that matters, and the engine repeats it with their sessions hashes declared
-- (K.people, in the same order); that call harvests the first of them still idle past the
-- threshold whose slot, freed, would go to the person asking under the pool rules and the
-- line's order, and never asks again.

local H = {}
local CANDIDATES = 4
-- The member of `ended` marking a harvested session until its idle timeout would have passed:
-- its next heartbeat is told why the slot went.
local MARK = '^'

-- The live pool holders idle for HARVEST or longer, longest idle first.
local function idle_holders()
  if HARVEST <= 0 or HARVEST >= IDLE then return {} end
  return redis.call('ZRANGEBYSCORE', K.pool, '(' .. NOW, NOW + IDLE - HARVEST,
    'LIMIT', 0, CANDIDATES)
end

-- The people whose sessions hashes the call declared, with their keys: the key of the person
-- asking (K.sessions) less their name gives the part every sessions key starts with.
local function declared(person)
  local base = string.sub(K.sessions, 1, #K.sessions - #person)
  local found = {}
  for _, key in ipairs(rawget(K, 'people') or {}) do
    table.insert(found, {string.sub(key, #base + 1), key})
  end
  return found
end

-- The sessions ({id, value}) and charge record of `victim`, whose sessions hash is `skey`, when
-- they are still a live pool holder idle past the threshold with no capped session; else nil.
local function idle_sessions(victim, skey)
  local latest = tonumber(redis.call('ZSCORE', K.pool, victim))
  if not latest or latest <= NOW or latest > NOW + IDLE - HARVEST then return nil end
  local all = redis.call('HGETALL', skey)
  local sessions, charge = {}, nil
  for i = 1, #all, 2 do
    if all[i] == CHARGE then
      charge = all[i + 1]
    else
      local expiry, created = string.match(all[i + 1], '^(%d+) (%d+)$')
      expiry, created = tonumber(expiry), tonumber(created)
      if expiry > NOW and expiry >= created + MAX_AGE then return nil end
      table.insert(sessions, {all[i], all[i + 1], expiry})
    end
  end
  return sessions, charge
end

-- The counts a decision under `rules` reads (see P.use), less the slot of a holder whose
-- charge record is `record`.
local function use_without(rules, record)
  local use = P.use(rules)
  if not record then return use end
  local charge, groups = P.read(record)
  local numbers = P.numbers()
  if charge ~= '' and numbers[charge] then
    use.r = use.r - 1
    use['r:' .. charge] = use['r:' .. charge] - 1
  end
  for _, group in ipairs(groups) do
    if numbers[group] then use['m:' .. group] = use['m:' .. group] - 1 end
  end
  return use
end

-- Whether a slot freed from a holder whose charge record is `record` would go to `person` (of
-- `groups` under `rules`) with `used` of `capacity` held: past the waiters ahead in the line
-- (line: whether anyone waits), within the caps and reservations.
local function would_serve(person, groups, rules, capacity, used, record, line)
  local use = rules and use_without(rules, record)
  if line then return Q.walk(person, groups, rules, capacity, used - 1, use) == nil end
  if rules then return (P.charge(rules, groups, capacity, used - 1, use)) ~= nil end
  return used - 1 < capacity
end

-- Ends the sessions of `victim` (sessions hash `skey`) and gives their slot back: each session
-- live is marked, audited 'ended' and recorded with the reason 'harvested' (one already
-- expired, as a cull would). The harvest is counted once, however many sessions it ended, in
-- the hour's field H of the history (usage.lua sums the last 24). Returns the ids harvested.
local function yield(victim, skey, sessions, charge)
  redis.call('DEL', skey)
  redis.call('ZREM', K.pool, victim)
  note_holder(victim, false)
  if charge then P.remove(victim, charge) end
  freed()
  count_today('H' .. math.floor(NOW / 3600000))
  local ids = {}
  for _, entry in ipairs(sessions) do
    if entry[3] > NOW then
      redis.call('ZADD', K.ended, NOW + IDLE, MARK .. entry[1])
      audit('ended', victim, 'concurrent', entry[1], 'harvested')
      closed(victim, 'concurrent', entry[2], NOW, 'harvested')
      table.insert(ids, entry[1])
    else
      dropped(victim, 'concurrent', entry[1], entry[2])
    end
  end
  return ids
end

-- For `person`, refused a pool slot (see admit() in admission.lua): nil when nobody may be
-- harvested for them; {'harvest', person...}, the reply asking the engine to repeat the call
-- with those people's sessions declared; or the ids of the sessions harvested, the slot
-- now free for the person.
function H.harvest(person, groups, rules, capacity, used, line)
  if HARVEST <= 0 then return nil end
  local people = declared(person)
  if #people == 0 then
    local idle = idle_holders()
    if #idle == 0 then return nil end
    -- Without pool rules, whether a freed slot would go to the person does not depend on whose
    -- it is, so they are not asked for in vain.
    if not rules and not would_serve(person, groups, nil, capacity, used, nil, line) then
      return nil
    end
    return {'harvest', unpack(idle)}
  end
  for _, found in ipairs(people) do
    local sessions, charge = idle_sessions(found[1], found[2])
    if sessions and would_serve(person, groups, rules, capacity, used, charge, line) then
      return yield(found[1], found[2], sessions, charge)
    end
  end
  return nil
end

-- Whether `session`, readmitted, had been harvested (and not yet readmitted since).
function H.marked(session)
  return (tonumber(redis.call('ZSCORE', K.ended, MARK .. session)) or 0) > NOW
end

function H.unmark(session)
  redis.call('ZREM', K.ended, MARK .. session)
end
