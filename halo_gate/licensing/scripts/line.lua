-- The waiting line. Keys:
--   queue      ZSET  waiting person -> ticket, their arrival order (a counter, so no two
--                    tickets are equal and nothing can reorder the line)
--   queue_seq  STRING the last ticket given
--   waiting    ZSET  waiting person -> end of their place (ms): their last poll + the grace
--   offers     ZSET  waiting person -> end of the offer of a slot made to them (ms)
--   waiters    HASH  waiting person -> when they joined (ms), then their groups under the pool
--                    rules, each on its own line (what serving them would be charged to)
--   config     HASH  queue_len: the line's length, read with the capacities
-- A person waits once, however many tabs or devices ask for them: the line is keyed by person.
-- Nothing sweeps it: each admission that meets the line drops, boundedly, the waiters whose
-- place or offer has ended, on Redis's clock.

local Q = {}
-- The most waiters one admission looks at: past them, the person asking waits.
local WALK_LIMIT = 1024
-- The window (minutes) of freed slots the estimated wait is drawn from.
local RATE_WINDOW = 15

-- The line's length, copied into the config hash, where every admission reads it with the
-- capacities (set, not counted up and down, so it always ends equal to the line's).
local function counted()
  redis.call('HSET', K.config, 'queue_len', redis.call('ZCARD', K.queue))
end

-- Takes the person out of the line, auditing why; false if they were not in it.
function Q.leave(person, reason)
  if redis.call('ZREM', K.queue, person) == 0 then return false end
  counted()
  redis.call('ZREM', K.waiting, person)
  redis.call('ZREM', K.offers, person)
  redis.call('HDEL', K.waiters, person)
  audit('dequeued', person, 'concurrent', '', reason)
  return true
end

-- Drops (at most CULL_LIMIT of each) the waiters who stopped polling and those who did not
-- claim the slot offered to them in time, which then passes to the next.
function Q.cull()
  local gone = redis.call('ZRANGEBYSCORE', K.waiting, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  for _, person in ipairs(gone) do Q.leave(person, 'abandoned') end
  gone = redis.call('ZRANGEBYSCORE', K.offers, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  for _, person in ipairs(gone) do Q.leave(person, 'offer_expired') end
end

-- The waiter's groups under the pool rules, as they were when they last asked.
local function groups_of(person)
  local groups = {}
  local value = redis.call('HGET', K.waiters, person) or ''
  for line in string.gmatch(value, '\n([^\n]*)') do table.insert(groups, line) end
  return groups
end

-- Walks the line from its head, in arrival order, serving in simulation those whom the free
-- slots would serve under the pool rules (rules nil: none), on counts kept here. A waiter who
-- cannot be served (their group's cap, or only the shared part is full for them) is skipped
-- and blocks nobody; one who can holds an offer. The walk stops at `person` (or, when they
-- are not waiting, after the whole line) or once no slot is left for anybody.
-- Returns nil when `person` (of `groups`) would be served, else the refusal as P.charge
-- gives it: reason, group, limit, held.
function Q.walk(person, groups, rules, capacity, used)
  local use, simulated = rules and P.use(rules), used
  -- The charge a person of `groups` would take with the slots served so far (nil: none).
  local function serve(groups_)
    if not rules then
      if simulated < capacity then return '' end
      return nil, 'pool_full', '', capacity, simulated
    end
    return P.charge(rules, groups_, capacity, simulated, use)
  end
  local function answer()
    local taken, reason, group, limit, held = serve(groups)
    if taken then return nil end
    return reason, group, limit, held
  end
  for start = 0, WALK_LIMIT - 1, 64 do
    local batch = redis.call('ZRANGE', K.queue, start, start + 63)
    for _, waiter in ipairs(batch) do
      if waiter == person or simulated >= capacity then return answer() end
      local waiter_groups = rules and groups_of(waiter) or {}
      local taken = serve(waiter_groups)
      if taken then
        simulated = simulated + 1
        if rules then P.take(use, taken, waiter_groups) end
        -- The offer's time runs from when it was first made.
        redis.call('ZADD', K.offers, 'NX', NOW + OFFER, waiter)
      else
        redis.call('ZREM', K.offers, waiter)
      end
    end
    if #batch < 64 then return answer() end
  end
  return 'pool_full', '', capacity, simulated
end

-- Gives the person a place at the end of the line, or renews the one they have (each poll
-- keeps it for the grace). Returns their position (1: the head; 0: the line is full) and
-- whether they have just joined.
function Q.join(person, groups)
  local listed = ''
  if #groups > 0 then listed = '\n' .. table.concat(groups, '\n') end
  local rank = redis.call('ZRANK', K.queue, person)
  if rank then
    -- Their groups as they are now; the time they joined as it was.
    local since = string.match(redis.call('HGET', K.waiters, person) or '', '^%d+') or NOW
    redis.call('HSET', K.waiters, person, since .. listed)
    redis.call('ZADD', K.waiting, NOW + GRACE, person)
    return rank + 1, false
  end
  if redis.call('ZCARD', K.queue) >= QUEUE_MAX then return 0, false end
  redis.call('ZADD', K.queue, redis.call('INCR', K.queue_seq), person)
  redis.call('ZADD', K.waiting, NOW + GRACE, person)
  redis.call('HSET', K.waiters, person, NOW .. listed)
  counted()
  return redis.call('ZCARD', K.queue), true
end

-- The estimated wait (ms) at `position`: position x the window / the slots freed in the
-- window (logouts, idle expiries, ended sessions: see freed()); -1 when none freed.
function Q.estimate(position)
  local minute = math.floor(NOW / 60000)
  local first_today = math.floor(NOW / DAY_MS) * 1440
  local today, before = {}, {}
  for m = minute - RATE_WINDOW + 1, minute do
    if m >= first_today then table.insert(today, 'f' .. m) else table.insert(before, 'f' .. m) end
  end
  local count = 0
  for _, counts in ipairs({redis.call('HMGET', K.history, unpack(today)),
      #before > 0 and redis.call('HMGET', K.history_before, unpack(before)) or {}}) do
    for _, n in ipairs(counts) do count = count + (tonumber(n) or 0) end
  end
  if count == 0 then return -1 end
  return math.ceil(position * RATE_WINDOW * 60000 / count)
end

-- {length, longest wait (ms)} of the line now.
function Q.summary()
  Q.cull()
  local head = redis.call('ZRANGE', K.queue, 0, 0)
  if #head == 0 then return {0, 0} end
  local since = tonumber(string.match(redis.call('HGET', K.waiters, head[1]) or '', '^%d+'))
  return {redis.call('ZCARD', K.queue), since and math.max(NOW - since, 0) or 0}
end
