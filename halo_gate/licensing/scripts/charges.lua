-- The department pools: slots of the concurrent pool reserved for, or capped to, a group's
-- members. Keys:
--   config     HASH  reserve, cap (the rules, "group=N,..."), pools_gen (their generation),
--                    pools_count, numbers ("group=n,...": each group's number, below; "n+" for
--                    a group whose reservation may hold slots)
--   charges    ZSET  one entry per pool slot held under the rules and per group of its holder,
--                    scored by the holder's expiry, so that each count is one ZCOUNT of the
--                    live range, right whatever expired holders are still to be culled. The
--                    entries of group number n fall in three parts: 3n (the slot is charged to
--                    n's reservation), 3n+1 (to the shared part), 3n+2 (to another group's
--                    reservation); an entry is member "<part> <person>", score
--                    part * SPAN + expiry (ms), each part a range of scores of its own.
--   sessions   HASH  CHARGE -> the person's charge record (see P.record)
-- A group keeps its number while the rules name it or entries of it remain; scores stay exact
-- integers (below 2^53), which bounds the groups numbered at once to MAX_GROUPS.

local P = {}
local MAX_GROUPS = 682

-- The pool rules' texts: reservations and caps ("group=N,...", '' for none).
function P.texts()
  capacities()
  return capacity_cache[7], capacity_cache[8]
end

-- The groups' numbers: group -> n; and the groups whose reservation may hold slots (reserved
-- now, or since removed while slots charged to it remain): group -> true.
function P.numbers()
  if not numbers_cache then
    capacities()
    numbers_cache, reserving_cache = {}, {}
    for group, n, flag in string.gmatch(capacity_cache[6], '([^,]+)=(%d+)(%+?)') do
      numbers_cache[group] = tonumber(n)
      if flag == '+' then reserving_cache[group] = true end
    end
  end
  return numbers_cache, reserving_cache
end

-- The live entries of one part.
local function live_in(part)
  return redis.call('ZCOUNT', K.charges, '(' .. whole(part * SPAN + NOW),
    '(' .. whole((part + 1) * SPAN))
end

-- Applies new pool rules, with a new generation: '0' while there are none, so a decision needs
-- nothing but the generation, which it reads anyway, to know that. Every group they name gets
-- a number; a group they no longer name gives its number back once no entry of it is left.
function P.set(reserve, cap)
  local named, reserved, kept, taken = {}, {}, {}, {}
  for group in string.gmatch(reserve, '([^,]+)=%d+') do
    named[group], reserved[group] = true, true
  end
  for group in string.gmatch(cap, '([^,]+)=%d+') do named[group] = true end
  local numbers, reserving = P.numbers()
  for group, n in pairs(numbers) do
    local first = 3 * n * SPAN
    local held = redis.call('ZCOUNT', K.charges, whole(first), '(' .. whole(first + 3 * SPAN))
    if named[group] or held > 0 then
      kept[group], taken[n] = n, true
      -- Slots charged to a removed reservation still count as reserved until they end.
      if reserving[group] and not reserved[group] and redis.call('ZCOUNT', K.charges,
          whole(first), '(' .. whole(first + SPAN)) > 0 then
        reserved[group] = true
      end
    end
  end
  local next_number = 0
  for group in pairs(named) do
    if not kept[group] then
      while taken[next_number] do next_number = next_number + 1 end
      if next_number >= MAX_GROUPS then
        return redis.error_reply('The pool rules name more groups than the ' .. MAX_GROUPS ..
          ' the engine can count at once.')
      end
      kept[group], taken[next_number] = next_number, true
    end
  end
  local listed = {}
  for group, n in pairs(kept) do
    table.insert(listed, group .. '=' .. n .. (reserved[group] and '+' or ''))
  end
  local count = redis.call('HINCRBY', K.config, 'pools_count', 1)
  local generation = '0'
  if reserve ~= '' or cap ~= '' then generation = tostring(count) end
  redis.call('HSET', K.config, 'reserve', reserve, 'cap', cap, 'pools_gen', generation,
    'numbers', table.concat(listed, ','))
  forget_capacities()
  return nil
end

-- The pool rules, parsed once per call; nil when neither reservations nor caps are set.
-- order: groups with a reservation, in the order given (the order slots are charged in);
-- capped: groups with a cap, in the order given; reserve[G], cap[G]; reserved: all the
-- reservations' slots together.
function P.rules()
  capacities()
  if capacity_cache[4] == '0' then return nil end
  if not rules_cache then
    local reserve_text, cap_text = P.texts()
    local rules = {order = {}, capped = {}, reserve = {}, cap = {}, reserved = 0}
    for group, n in string.gmatch(reserve_text, '([^,]+)=(%d+)') do
      table.insert(rules.order, group)
      rules.reserve[group] = tonumber(n)
      rules.reserved = rules.reserved + tonumber(n)
    end
    for group, n in string.gmatch(cap_text, '([^,]+)=(%d+)') do
      table.insert(rules.capped, group)
      rules.cap[group] = tonumber(n)
    end
    rules_cache = rules
  end
  return rules_cache
end

-- A slot's charge record: the group whose reservation holds it ('' for the shared part), then
-- the person's groups under the rules when they took it, each on its own line. A record is
-- only kept for people in such a group: anyone else is in the shared part, counted by none.
function P.record(charge, groups)
  return charge .. '\n' .. table.concat(groups, '\n')
end

function P.read(record)
  local charge, groups = nil, {}
  for line in string.gmatch(record .. '\n', '([^\n]*)\n') do
    if charge == nil then charge = line else table.insert(groups, line) end
  end
  return charge, groups
end

-- The members of charges that a slot with this charge record holds for `person`, and their
-- parts.
local function entries(person, record)
  local charge, groups = P.read(record)
  local numbers, found = P.numbers(), {}
  for _, group in ipairs(groups) do
    local n = numbers[group]
    if n then
      local part = 3 * n + 2
      if group == charge then part = 3 * n elseif charge == '' then part = 3 * n + 1 end
      table.insert(found, {part, part .. ' ' .. person})
    end
  end
  return found
end

-- Scores a slot's entries with the holder's expiry (mode 'GT': only a later one).
function P.place(person, record, expiry, mode)
  for _, entry in ipairs(entries(person, record)) do
    local score = whole(entry[1] * SPAN + expiry)
    if mode then
      redis.call('ZADD', K.charges, mode, score, entry[2])
    else
      redis.call('ZADD', K.charges, score, entry[2])
    end
  end
end

-- Gives a slot's charge back.
function P.remove(person, record)
  for _, entry in ipairs(entries(person, record)) do redis.call('ZREM', K.charges, entry[2]) end
end

-- The live counts a decision under `rules` reads, counted on first use: r (slots charged to
-- any reservation, also of a group whose reservation was removed since), m:G (slots held by
-- members of G), r:G (charged to G's reservation), s:G (members of G charged to the shared
-- part). Simulations add to them (see P.take).
function P.use(rules)
  local numbers, reserving = P.numbers()
  return setmetatable({}, {
    __index = function(use, field)
      local value = 0
      if field == 'r' then
        -- Any reservation's, the rules' or one since removed whose holders remain.
        for group in pairs(reserving) do value = value + use['r:' .. group] end
      else
        local kind, group = string.match(field, '^(%a):(.*)$')
        local n = numbers[group]
        if n and kind == 'r' then
          value = live_in(3 * n)
        elseif n and kind == 's' then
          value = live_in(3 * n + 1)
        elseif n then
          value = live_in(3 * n) + live_in(3 * n + 1) + live_in(3 * n + 2)
        end
      end
      rawset(use, field, value)
      return value
    end,
  })
end

-- Milliseconds until the (k+1)-th soonest-leaving live member of `group` has left, at the
-- latest. Past a few, the last member's expiry, which bounds them all.
local WAIT_SCAN = 64
local function member_wait(group, k)
  local n = P.numbers()[group]
  if not n then return IDLE end
  local expiries = {}
  for part = 3 * n, 3 * n + 2 do
    local low, high = '(' .. whole(part * SPAN + NOW), '(' .. whole((part + 1) * SPAN)
    local found
    if k < WAIT_SCAN then
      found = redis.call('ZRANGEBYSCORE', K.charges, low, high, 'WITHSCORES', 'LIMIT', 0, k + 1)
    else
      found = redis.call('ZREVRANGEBYSCORE', K.charges, high, low, 'WITHSCORES', 'LIMIT', 0, 1)
    end
    for i = 2, #found, 2 do table.insert(expiries, tonumber(found[i]) - part * SPAN) end
  end
  table.sort(expiries)
  if k >= WAIT_SCAN then return (expiries[#expiries] or NOW + IDLE) - NOW end
  if #expiries <= k then return IDLE end
  return expiries[k + 1] - NOW
end

-- Milliseconds until the (k+1)-th soonest-leaving live holder of a shared slot (one not charged
-- to any reservation) has left; the idle timeout when fewer hold one. Of the first i+1 holders
-- to leave, those not charged to a reservation hold shared slots, so the answer is found by
-- halving the ranks from k to k + `reserved` (the live holders charged to reservations).
local function shared_wait(k, reserved)
  local numbers, reserving = P.numbers()
  local expired = redis.call('ZCOUNT', K.pool, '-inf', NOW)
  local function reserved_by(expiry)
    local count = 0
    for group in pairs(reserving) do
      local n = numbers[group]
      count = count + redis.call('ZCOUNT', K.charges, '(' .. whole(3 * n * SPAN + NOW),
        whole(3 * n * SPAN + expiry))
    end
    return count
  end
  local low, high, found = k, k + reserved, nil
  while low <= high do
    local rank = math.floor((low + high) / 2)
    local at = redis.call('ZRANGE', K.pool, expired + rank, expired + rank, 'WITHSCORES')
    if #at > 0 and rank + 1 - reserved_by(tonumber(at[2])) >= k + 1 then
      found, high = tonumber(at[2]), rank - 1
    elseif #at > 0 then
      low = rank + 1
    else
      high = rank - 1
    end
  end
  if not found then return IDLE end
  return found - NOW
end

-- The charge for a new pool slot under the rules, for a person whose groups under the rules
-- are `groups`, with `used` of the pool's `capacity` slots held. In this order:
--   1. every cap of the person's groups must have room, else 'group_cap' for the first full
--      one in the order of the caps;
--   2. the pool as a whole never holds more than its slots, else 'pool_full';
--   3. the slot is charged to the first of the person's groups, in the order of the
--      reservations, whose reservation has a free slot;
--   4. else to the shared part (the slots less all reservations) while it has room, else
--      'pool_full'.
-- Returns the charge (a group: its reservation; '': the shared part), or nil and the refusal:
-- reason, group ('' for none), limit (the slots that were full), held (how many are held)
-- and the wait: a function of k giving the ms until k+1 of the holders filling those slots
-- have left (nil: any holder). use: the counts the decision reads (see P.use); the waiting
-- line passes counts it simulates.
function P.charge(rules, groups, capacity, used, use)
  use = use or P.use(rules)
  local member = {}
  for _, group in ipairs(groups) do member[group] = true end
  for _, group in ipairs(rules.capped) do
    local held = member[group] and use['m:' .. group]
    if held and held >= rules.cap[group] then
      return nil, 'group_cap', group, rules.cap[group], held,
        function(k) return member_wait(group, k) end
    end
  end
  if used >= capacity then return nil, 'pool_full', '', capacity, used, nil end
  for _, group in ipairs(rules.order) do
    if member[group] and use['r:' .. group] < rules.reserve[group] then return group end
  end
  local shared, shared_held = capacity - rules.reserved, used - use.r
  if shared_held < shared then return '' end
  local reserved = use.r
  return nil, 'pool_full', '', math.max(shared, 0), shared_held,
    function(k) return shared_wait(k, reserved) end
end

-- Adds a slot charged to `taken` for a person of `groups` to counts kept as P.charge's use.
function P.take(use, taken, groups)
  if taken ~= '' then
    use.r = use.r + 1
    use['r:' .. taken] = use['r:' .. taken] + 1
  end
  for _, group in ipairs(groups) do use['m:' .. group] = use['m:' .. group] + 1 end
end

-- Counts a refused person's denial against each of their groups under the rules, per hour.
function P.record_denials(groups)
  local hour = math.floor(NOW / 3600000)
  for _, group in ipairs(groups) do count_today('G' .. hour .. ' ' .. group) end
end
