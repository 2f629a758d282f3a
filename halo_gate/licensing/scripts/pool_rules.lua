-- The department pools, prepended after common.lua (and before queue.lua) to every script of
-- this folder. Lua makes a closure of every function of the preamble at every call, so the pool
-- rules' functions are made only in a call that needs them (by pool_lib(), once): a renewal, or
-- any decision without pool rules, does not pay for them. Keys (all in the installation's
-- {hash tag}):
--   config        HASH  reserve, cap (the rules, "group=N,..."), pools_gen (their generation),
--                       pools_count (see common.lua)
--   pool          ZSET  concurrent person -> expiry (ms), read to find who leaves first
--   sessions:P    HASH  CHARGE -> person P's pool slot's charge record (see P.record)
--   pool_use      HASH  slots held under pool rules: r (charged to reservations), m:G (held by
--                       members of G), r:G (charged to G's reservation), s:G (members of G
--                       charged to the shared part)
--   group_history:D HASH day D's denials of group members: "M G" (minute, group) -> count

local K_POOL_USE = PREFIX .. 'pool_use'
-- The most holders wait_for() looks at.
local SCAN_LIMIT = 512
local pool_lib_cache = nil
pool_lib = function()
  if pool_lib_cache then return pool_lib_cache end
  local P = {}

  -- The pool rules' texts: reservations and caps ("group=N,...", '' for none).
  function P.texts()
    local texts = redis.call('HMGET', K_CONFIG, 'reserve', 'cap')
    return texts[1] or '', texts[2] or ''
  end

  -- Applies new pool rules, with a new generation: '0' while there are none, so a decision needs
  -- nothing but the generation, which it reads anyway, to know that.
  function P.set(reserve, cap)
    local count = redis.call('HINCRBY', K_CONFIG, 'pools_count', 1)
    local generation = '0'
    if reserve ~= '' or cap ~= '' then generation = tostring(count) end
    redis.call('HSET', K_CONFIG, 'reserve', reserve, 'cap', cap, 'pools_gen', generation)
    forget_capacities()
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

  -- Adds a slot's charge to the pool_use counters (delta 1) or gives it back (delta -1).
  function P.count(record, delta)
    local charge, groups = P.read(record)
    if charge ~= '' then
      redis.call('HINCRBY', K_POOL_USE, 'r', delta)
      redis.call('HINCRBY', K_POOL_USE, 'r:' .. charge, delta)
    end
    for _, group in ipairs(groups) do
      redis.call('HINCRBY', K_POOL_USE, 'm:' .. group, delta)
      if charge == '' then redis.call('HINCRBY', K_POOL_USE, 's:' .. group, delta) end
    end
  end

  -- Under pool rules the pool_use counters are read, and they count a holder until the holder
  -- is culled, so every expired holder is culled first. Each is culled once: the work is
  -- bounded over time, though not per call.
  function P.cull_expired()
    while redis.call('ZCOUNT', K_POOL, '-inf', NOW) > 0 do cull_people(K_POOL, 'concurrent') end
  end

  -- Milliseconds until the (k+1)-th soonest-leaving holder whose charge record satisfies
  -- belongs(record) (false when they have none) has left. The scan is bounded: past it, the last
  -- holder's expiry, which bounds every slot's; with fewer such holders, the idle timeout.
  function P.wait_for(k, belongs)
    local found = 0
    for start = 0, SCAN_LIMIT - 1, 64 do
      local batch = redis.call('ZRANGEBYSCORE', K_POOL, '(' .. NOW, '+inf', 'WITHSCORES',
        'LIMIT', start, 64)
      for i = 1, #batch, 2 do
        if belongs(redis.call('HGET', sessions_key(batch[i]), CHARGE)) then
          if found == k then return tonumber(batch[i + 1]) - NOW end
          found = found + 1
        end
      end
      if #batch < 128 then return IDLE end
    end
    local last = redis.call('ZRANGE', K_POOL, -1, -1, 'WITHSCORES')
    return tonumber(last[2]) - NOW
  end

  function P.in_shared_part(record)
    return not record or string.sub(record, 1, 1) == '\n'
  end

  function P.member_of(group)
    return function(record)
      if not record then return false end
      local _, groups = P.read(record)
      for _, g in ipairs(groups) do
        if g == group then return true end
      end
      return false
    end
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
  -- and the holders that must leave to make room (a filter for wait_for; nil: any holder).
  -- use: the pool_use counters the decision reads (field -> number; missing ones 0), read
  -- from the store when not given; the waiting line passes counts it simulates.
  function P.charge(rules, groups, capacity, used, use)
    if not use then
      local fields = {'r'}
      for _, group in ipairs(groups) do
        table.insert(fields, 'm:' .. group)
        table.insert(fields, 'r:' .. group)
      end
      local counts = redis.call('HMGET', K_POOL_USE, unpack(fields))
      use = {}
      for i, name in ipairs(fields) do use[name] = tonumber(counts[i]) end
    end
    local member = {}
    for _, group in ipairs(groups) do member[group] = true end
    for _, group in ipairs(rules.capped) do
      local held = use['m:' .. group] or 0
      if member[group] and held >= rules.cap[group] then
        return nil, 'group_cap', group, rules.cap[group], held, P.member_of(group)
      end
    end
    if used >= capacity then return nil, 'pool_full', '', capacity, used, nil end
    for _, group in ipairs(rules.order) do
      if member[group] and (use['r:' .. group] or 0) < rules.reserve[group] then return group end
    end
    local shared, shared_held = capacity - rules.reserved, used - (use.r or 0)
    if shared_held < shared then return '' end
    return nil, 'pool_full', '', math.max(shared, 0), shared_held, P.in_shared_part
  end

  -- Adds a slot charged to `taken` for a person of `groups` to counts kept as P.charge's use.
  function P.take(use, taken, groups)
    if taken ~= '' then
      use.r = (use.r or 0) + 1
      use['r:' .. taken] = (use['r:' .. taken] or 0) + 1
    end
    for _, group in ipairs(groups) do use['m:' .. group] = (use['m:' .. group] or 0) + 1 end
  end

  -- Counts a refused person's denial against each of their groups under the rules.
  function P.record_denials(groups)
    local minute = math.floor(NOW / 60000)
    local key = PREFIX .. 'group_history:' .. math.floor(minute / 1440)
    for _, group in ipairs(groups) do redis.call('HINCRBY', key, minute .. ' ' .. group, 1) end
    redis.call('EXPIRE', key, HISTORY_TTL)
  end

  pool_lib_cache = P
  return P
end
