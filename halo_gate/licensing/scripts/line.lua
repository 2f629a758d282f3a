-- The waiting line. Keys:
--   queue          ZSET  waiting person -> ticket, their arrival order (a counter, so no two
--                        tickets are equal and nothing can reorder the line)
--   waiting        ZSET  waiting person -> end of their place (ms): their last poll + the grace
--   offers         ZSET  waiting person -> end of the offer of a slot made to them (ms)
--   waiters        HASH  waiting person -> when they joined (ms), then their groups under the
--                        pool rules, each on its own line (what serving them would be charged to)
--   queue_classes  HASH  the line's classes: waiters of the same groups, whom the same free
--                        slots would serve alike: '=' .. groups -> number, '#' .. number -> groups
--   queue_lines    ZSET  one line per class: member "<class> <person>", score
--                        class * SPAN + ticket, so a class's waiters are a range in arrival order
--   queue_refused  ZSET  person refused queue_full -> end of that refusal (ms): their last ask
--                        + the grace; asking again before then (without a place in line
--                        meanwhile) is the same refusal, not counted again
--   config         HASH  queue_len: the line's length, read with the capacities; queue_seq:
--                        the last ticket given
-- A person waits once, however many tabs or devices ask for them: the line is keyed by person.
-- Nothing sweeps it: each admission that meets the line drops, boundedly, the waiters whose
-- place or offer has ended, on Redis's clock.

local Q = {}
-- The most waiters one admission serves in simulation ahead of the person asking: past them,
-- the person waits (those ahead are served first in any case).
local SERVE_LIMIT = 128
-- Waiters of a class read at a time during a walk.
local BATCH = 16
-- Classes waiting at once (class * SPAN + ticket stays an exact integer below 2^53).
local MAX_CLASSES = 2048
-- The window (minutes) of freed slots the estimated wait is drawn from.
local RATE_WINDOW = 15

-- The line's length, copied into the config hash, where every admission reads it with the
-- capacities (set, not counted up and down, so it always ends equal to the line's).
local function counted()
  redis.call('HSET', K.config, 'queue_len', redis.call('ZCARD', K.queue))
end

-- The number of the class of waiters whose groups are `listed` ("\ngroup\ngroup..." or ''),
-- given a free one when `create` and it has none; nil when it has none (or none is free).
local function class_of(listed, create)
  local number = tonumber(redis.call('HGET', K.queue_classes, '=' .. listed))
  if number or not create then return number end
  local taken = {}
  for _, field in ipairs(redis.call('HKEYS', K.queue_classes)) do
    if string.sub(field, 1, 1) == '#' then taken[tonumber(string.sub(field, 2))] = true end
  end
  number = 0
  while taken[number] do number = number + 1 end
  if number >= MAX_CLASSES then return nil end
  redis.call('HSET', K.queue_classes, '=' .. listed, number, '#' .. number, listed)
  return number
end

-- Puts the waiter holding `ticket` in the line of their class (false: no class is free).
local function into_line(person, listed, ticket)
  local class = class_of(listed, true)
  if not class then return false end
  redis.call('ZADD', K.queue_lines, whole(class * SPAN + ticket), class .. ' ' .. person)
  return true
end

-- Takes the waiter out of the line of their class; a class left empty is forgotten.
local function out_of_line(person, listed)
  local class = class_of(listed, false)
  if not class then return end
  redis.call('ZREM', K.queue_lines, class .. ' ' .. person)
  local first = class * SPAN
  if redis.call('ZCOUNT', K.queue_lines, whole(first), '(' .. whole(first + SPAN)) == 0 then
    redis.call('HDEL', K.queue_classes, '=' .. listed, '#' .. class)
  end
end

-- Takes the person out of the line, auditing why; false if they were not in it.
function Q.leave(person, reason)
  if redis.call('ZREM', K.queue, person) == 0 then return false end
  counted()
  local value = redis.call('HGET', K.waiters, person) or ''
  out_of_line(person, string.match(value, '^%d*(.*)$'))
  redis.call('ZREM', K.waiting, person)
  redis.call('ZREM', K.offers, person)
  redis.call('HDEL', K.waiters, person)
  audit('dequeued', person, 'concurrent', '', reason)
  return true
end

-- Drops (at most CULL_LIMIT of each) the waiters who stopped polling and those who did not
-- claim the slot offered to them in time, which then passes to the next, and the refusals that
-- have ended.
function Q.cull()
  local gone = redis.call('ZRANGEBYSCORE', K.waiting, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  for _, person in ipairs(gone) do Q.leave(person, 'abandoned') end
  gone = redis.call('ZRANGEBYSCORE', K.offers, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  for _, person in ipairs(gone) do Q.leave(person, 'offer_expired') end
  cull_zset(K.queue_refused)
end

-- The classes waiting, each with its groups, read a batch at a time in arrival order.
local function classes()
  local found = {}
  local all = redis.call('HGETALL', K.queue_classes)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 1) == '#' then
      local groups = {}
      for group in string.gmatch(all[i + 1], '[^\n]+') do table.insert(groups, group) end
      table.insert(found, {number = tonumber(string.sub(all[i], 2)), groups = groups,
        tickets = {}, people = {}, at = 1, after = 0})
    end
  end
  return found
end

-- The ticket and person of the next waiter of `class` not yet served in the walk (nil: none).
local function next_of(class)
  if class.at > #class.tickets then
    if class.done then return nil end
    local first = class.number * SPAN
    local found = redis.call('ZRANGEBYSCORE', K.queue_lines, '(' .. whole(first + class.after),
      '(' .. whole(first + SPAN), 'WITHSCORES', 'LIMIT', 0, BATCH)
    class.tickets, class.people, class.at = {}, {}, 1
    for i = 1, #found, 2 do
      table.insert(class.people, string.match(found[i], '^%d+ (.*)$'))
      table.insert(class.tickets, tonumber(found[i + 1]) - first)
    end
    class.done = #found < 2 * BATCH
    if #found == 0 then return nil end
  end
  return class.tickets[class.at], class.people[class.at]
end

-- Walks the line in arrival order, serving in simulation those ahead of `person` (all of the
-- line, when they are not waiting) whom the free slots would serve under the pool rules
-- (rules nil: none), on counts kept here. Waiters of the same groups are served alike, so the
-- walk goes class by class: its next waiter is the earliest head of a class that can still be
-- served. A class that cannot be served (a cap of its groups, or only the shared part is
-- full for them) stays so for the rest of the walk, since serving others only fills slots:
-- its waiters are skipped at once and block nobody, however many they are. One who can be
-- served holds an offer. The walk stops at `person`, or once no slot is left for anybody.
-- Returns nil when `person` (of `groups`) would be served, else the refusal as P.charge
-- gives it: reason, group, limit, held. use: the counts to start from (see P.use), when not
-- the store's (a harvest's simulation, see harvest.lua).
function Q.walk(person, groups, rules, capacity, used, use)
  local simulated = used
  use = rules and (use or P.use(rules))
  -- The charge a person of `groups` would take with the slots served so far (nil: none).
  local function serve(groups_)
    if not rules then
      if simulated < capacity then return '' end
      return nil, 'pool_full', '', capacity, simulated
    end
    return P.charge(rules, groups_, capacity, simulated, use)
  end
  local mine = tonumber(redis.call('ZSCORE', K.queue, person))
  local line, served = classes(), 0
  while simulated < capacity do
    -- The earliest head, ahead of the person, of a class that can be served now.
    local first, earliest, taken = nil, nil, nil
    for _, class in ipairs(line) do
      if not class.blocked then
        local charge = serve(class.groups)
        local ticket = charge and next_of(class)
        if not charge then
          class.blocked = true
        elseif ticket and (not mine or ticket < mine) and (not earliest or ticket < earliest) then
          first, earliest, taken = class, ticket, charge
        end
      end
    end
    if not first then break end
    if served == SERVE_LIMIT then return 'pool_full', '', capacity, simulated end
    served, simulated = served + 1, simulated + 1
    if rules then P.take(use, taken, first.groups) end
    -- The offer's time runs from when it was first made.
    redis.call('ZADD', K.offers, 'NX', NOW + OFFER, first.people[first.at])
    first.after, first.at = earliest, first.at + 1
  end
  local taken, reason, group, limit, held = serve(groups)
  if taken then return nil end
  -- An offer made to the person earlier is withdrawn: they asked, and cannot be served now.
  if mine then redis.call('ZREM', K.offers, person) end
  return reason, group, limit, held
end

-- Gives the person a place at the end of the line, or renews the one they have (each poll
-- keeps it for the grace). `groups`: their groups under the rules, sorted. Returns their
-- position (1: the head; 0: the line is full) and whether they have just joined.
function Q.join(person, groups)
  local listed = ''
  if #groups > 0 then listed = '\n' .. table.concat(groups, '\n') end
  local rank = redis.call('ZRANK', K.queue, person)
  if rank then
    -- Their groups as they are now (their class with them); the time they joined as it was.
    local since, before = string.match(redis.call('HGET', K.waiters, person) or '', '^(%d*)(.*)$')
    if before ~= listed then
      out_of_line(person, before)
      into_line(person, listed, tonumber(redis.call('ZSCORE', K.queue, person)))
    end
    redis.call('HSET', K.waiters, person, (tonumber(since) or NOW) .. listed)
    redis.call('ZADD', K.waiting, NOW + GRACE, person)
    return rank + 1, false
  end
  if redis.call('ZCARD', K.queue) >= QUEUE_MAX then return 0, false end
  local ticket = redis.call('HINCRBY', K.config, 'queue_seq', 1)
  if not into_line(person, listed, ticket) then return 0, false end
  redis.call('ZADD', K.queue, ticket, person)
  redis.call('ZADD', K.waiting, NOW + GRACE, person)
  redis.call('HSET', K.waiters, person, NOW .. listed)
  redis.call('ZREM', K.queue_refused, person)
  counted()
  return redis.call('ZCARD', K.queue), true
end

-- Whether a queue_full refusal of the person is a new one (to be counted): not when they were
-- refused so within the grace before. Either way the refusal lasts a grace from now.
function Q.refused_anew(person)
  local until_ = tonumber(redis.call('ZSCORE', K.queue_refused, person)) or 0
  redis.call('ZADD', K.queue_refused, NOW + GRACE, person)
  return until_ <= NOW
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
