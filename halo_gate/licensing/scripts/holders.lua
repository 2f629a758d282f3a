-- The holders of slots and seats: a person's sessions, their entry in pool or active, their
-- named seat, and the culling of what has expired.

-- Drops the person's expired sessions from their sessions hash `skey` (auditing each);
-- returns the latest expiry left (or 0), the slot's charge record, if any, and the sessions
-- left ({id, "expiry created"} each). A person holds at most MAX_SESSIONS sessions (and the
-- charge), so this reads a bounded number of fields.
local function prune(person, skey, licence)
  local all = redis.call('HGETALL', skey)
  local latest, charge, live = 0, nil, {}
  for i = 1, #all, 2 do
    if all[i] == CHARGE then
      charge = all[i + 1]
    else
      local expiry = tonumber(string.match(all[i + 1], '^%d+'))
      if expiry <= NOW then
        redis.call('HDEL', skey, all[i])
        dropped(person, licence, all[i], all[i + 1])
      else
        if expiry > latest then latest = expiry end
        table.insert(live, {all[i], all[i + 1]})
      end
    end
  end
  return latest, charge, live
end

-- Makes the person's entry in the right zset (and their slot's charge) match their sessions
-- after a change. fresh says the person has just taken a new slot, so any charge record left
-- belongs to an old one. Returns the latest expiry of their sessions (0: none left) and their
-- sessions (see prune).
local function settle(person, skey, licence, fresh)
  local zset, other = zset_of(licence)
  local latest, charge, live = prune(person, skey, licence)
  if charge and (latest == 0 or licence == 'named' or fresh) then
    -- No pool slot is held any more: its charge is given back, to the part it came from.
    redis.call('HDEL', skey, CHARGE)
    P.remove(person, charge)
  elseif charge then
    P.place(person, charge, latest)
  end
  if redis.call('ZREM', other, person) == 1 and other == K.pool then freed() end
  if latest == 0 then
    if redis.call('ZREM', zset, person) == 1 and zset == K.pool then freed() end
  else
    redis.call('ZADD', zset, latest, person)
  end
  note_holder(person, latest ~= 0)
  return latest, live
end

-- Ends the person's oldest sessions (by creation) beyond the MAX_SESSIONS a person may hold,
-- keeping `session`, the one just opened: each is tombstoned, audited and recorded as ended
-- for 'session_cap'. live: their sessions (see prune). Returns the ids ended.
local function end_oldest(person, licence, session, live)
  local others = {}
  for _, entry in ipairs(live) do
    if entry[1] ~= session then
      table.insert(others, {entry[1], entry[2], tonumber(string.match(entry[2], ' (%d+)$'))})
    end
  end
  table.sort(others, function(a, b) return a[3] < b[3] or (a[3] == b[3] and a[1] < b[1]) end)
  local ended = {}
  for i = 1, #live - MAX_SESSIONS do
    local id, value = others[i][1], others[i][2]
    redis.call('HDEL', K.sessions, id)
    end_marker(id)
    audit('ended', person, licence, id, 'session_cap')
    closed(person, licence, value, NOW, 'session_cap')
    table.insert(ended, id)
  end
  return ended
end

-- The licence a person's live sessions are held under now.
local function held_licence(person)
  if redis.call('ZSCORE', K.active, person) then return 'named' end
  return 'concurrent'
end

local function licence_of(person)
  if redis.call('SISMEMBER', K.named, person) == 1 then return 'named' end
  return 'concurrent'
end

local function seat_free_for(person)
  local _, seats = capacities()
  local held = redis.call('SCARD', K.named) + redis.call('ZCOUNT', K.quarantine, '(' .. NOW, '+inf')
  -- A person may take back the seat quarantined from themselves (it is counted in held), but
  -- only while the seats, perhaps shrunk since, still have room for it.
  if (tonumber(redis.call('ZSCORE', K.quarantine, person)) or 0) > NOW then held = held - 1 end
  return held < seats
end

local function take_seat(person, by)
  redis.call('ZREM', K.quarantine, person)
  redis.call('SADD', K.named, person)
  audit('assigned', person, 'named', '', by)
end

-- Has the call name, in its reply, up to CULL_LIMIT holders whose last session has expired:
-- culling them touches their sessions hashes, keys the call has not declared, so the engine
-- culls them next (cull.lua); counts never include them meanwhile. An admission names pool
-- holders only (named ones are as few as the seats); with `all`, named holders too, and the
-- call culls the expired tombstones and quarantines (at most CULL_LIMIT of each).
local function cull(all)
  report = all and 'all' or 'pool'
  if all then
    cull_zset(K.ended)
    cull_zset(K.quarantine)
  end
end

-- The holders a call names for culling (see cull()).
local function expired_people()
  local found = redis.call('ZRANGEBYSCORE', K.pool, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  if report == 'all' and #found < CULL_LIMIT then
    local named = redis.call('ZRANGEBYSCORE', K.active, '-inf', NOW, 'LIMIT', 0,
      CULL_LIMIT - #found)
    for _, person in ipairs(named) do table.insert(found, person) end
  end
  return found
end

-- Culls `person`, whose sessions hash is `skey`, if their last session has expired: every
-- session is audited and recorded, the slot's charge given back. Returns how many sessions
-- went, or nil when the person is not expired (they renewed since being named); budget: the
-- most sessions to drop, nil for any number.
local function cull_person(person, skey, budget)
  local zset, licence = K.pool, 'concurrent'
  local latest = tonumber(redis.call('ZSCORE', K.pool, person))
  if not latest then
    zset, licence = K.active, 'named'
    latest = tonumber(redis.call('ZSCORE', K.active, person))
  end
  if not latest or latest > NOW then return nil end
  local all = redis.call('HGETALL', skey)
  local sessions = #all / 2
  if redis.call('HEXISTS', skey, CHARGE) == 1 then sessions = sessions - 1 end
  if budget and sessions > budget then return nil end
  redis.call('DEL', skey)
  redis.call('ZREM', zset, person)
  note_holder(person, false)
  if zset == K.pool then freed() end
  for i = 1, #all, 2 do
    if all[i] == CHARGE then
      P.remove(person, all[i + 1])
    else
      dropped(person, licence, all[i], all[i + 1])
    end
  end
  return sessions
end
