-- The admission decision for one session, which admit.lua, admit_waiting.lua and
-- heartbeat.lua share, and the renewal of a live one.

-- The answer of a call that leaves the decision to another (see admit.lua, renew.lua).
local DECIDE = {'decide'}

-- The checks every decision makes first: an error reply when the installation has no settings
-- or the caller chose the person's groups by rules that have changed since.
local function unsettled(pools_gen)
  capacities()
  if not capacity_cache[3] then
    -- No settings: the store lost its data (restarted empty, flushed) or was never configured.
    -- Deciding with 0 slots and no seats would lock everyone out; the engine applies the
    -- deployment's settings again, as a starting worker does, and repeats the call.
    return redis.error_reply('UNCONFIGURED the installation has no settings')
  end
  if pools_gen ~= capacity_cache[4] then
    -- The caller learns the new rules and repeats the call.
    return redis.error_reply('POOLS rules changed, now generation ' .. capacity_cache[4])
  end
  return nil
end

-- pools_gen is the generation of the pool rules the caller knows; the person's groups among
-- those the rules name are ARGV[6..]. Returns the reply every admitting script gives:
-- {outcome, licence, expires_at_ms, capacity, in_use, retry_after_ms}, and for a refusal also
-- {group, limit, held} (see P.charge), position in the line (0: not in it) and estimated wait
-- (ms, -1 unknown) (see line.lua), and 'harvested' when the session was harvested earlier; for
-- a new session that ended the person's oldest ones (past the most sessions a person may
-- hold), also {their ids}, and for one that took a harvested slot, {their ids} (or {}) and
-- {the ids harvested}. Or {'harvest', person...}: the call is to be repeated with those
-- people's sessions declared (see harvest.lua).
local function admit(person, session, named_group, created, outcome, pools_gen)
  local refused = unsettled(pools_gen)
  if refused then return refused end
  local capacity = capacities()
  -- Whether anyone waits in line: read with the capacities, so a decision with nobody waiting
  -- makes no call for the line. A call that declared no key of the line (admit.lua) leaves
  -- whatever involves it to admit_waiting.lua, before changing anything.
  local line = QUEUE_MAX > 0 and capacity_cache[5] > 0
  local lineless = rawget(K, 'queue') == nil
  if line and lineless then return DECIDE end
  local licence = licence_of(person)
  if licence == 'concurrent' and named_group == '1' and seat_free_for(person) then
    take_seat(person, 'group')
    licence = 'named'
  end
  local taken, mine, fresh, used, harvested = nil, nil, false, nil, nil
  -- A readmission of a session harvested earlier: its refusal says so (see harvest.lua).
  local marked = outcome == 'readmitted' and H.marked(session)
  if licence == 'concurrent' and (tonumber(redis.call('ZSCORE', K.pool, person)) or 0) <= NOW then
    -- The person holds no live slot, so dropping their stale sessions below leaves this count.
    used = in_use()
    -- Without pool rules (generation '0') nothing more is read.
    local rules = capacity_cache[4] ~= '0' and P.rules()
    local reason, group, limit, held, leaving = nil, nil, capacity, used, nil
    if rules then
      mine = {}
      for i = 6, #ARGV do
        if rules.reserve[ARGV[i]] or rules.cap[ARGV[i]] then table.insert(mine, ARGV[i]) end
      end
      table.sort(mine)
    end
    if capacity == 0 then
      reason = 'no_licence'
    else
      -- Once anyone waits, free slots go to the line first: the person is let in only if a slot
      -- is left for them after the waiters ahead of them whom the free slots would serve.
      if line then
        Q.cull()
        -- Those whose place had ended are gone: with nobody left, the plain decision stands.
        line = redis.call('ZCARD', K.queue) > 0
        if line then
          reason, group, limit, held = Q.walk(person, mine or {}, rules, capacity, used)
        end
      end
      if reason then
        leaving = nil
      elseif rules then
        taken, reason, group, limit, held, leaving = P.charge(rules, mine, capacity, used)
      elseif used >= capacity then
        reason = 'pool_full'
      end
      -- No slot is free to the person: the holder idle longest past the threshold may yield
      -- theirs (see harvest.lua), after which the decision is made again on the store's counts.
      if reason == 'pool_full' or reason == 'group_cap' then
        local harvest = H.harvest(person, mine or {}, rules, capacity, used, line)
        if harvest and harvest[1] == 'harvest' then return harvest end
        if harvest then
          harvested, used, reason, leaving = harvest, in_use(), nil, nil
          if rules then
            taken, reason, group, limit, held, leaving = P.charge(rules, mine, capacity, used)
          end
        end
      end
    end
    if reason then
      local waits = QUEUE_MAX > 0 and (reason == 'pool_full' or reason == 'group_cap')
      if waits and lineless then return DECIDE end
      -- A refused session keeps nothing: the next attempt starts afresh.
      if redis.call('HDEL', K.sessions, session) == 1 then settle(person, K.sessions, licence) end
      -- A person refused for want of a slot takes (or keeps) a place in the line.
      local position, joined = 0, false
      if waits then
        position, joined = Q.join(person, mine or {})
        if position == 0 then reason = 'queue_full' end
      end
      -- A waiter's poll is not a new refusal: only joining the line (or no line) is audited,
      -- and a queue_full refusal when it is not the same as one within the grace before.
      local anew = joined
      if position == 0 then anew = reason ~= 'queue_full' or Q.refused_anew(person) end
      if anew then
        audit('denied', person, licence, session, reason, used, rules and (group or ''))
        record('d', used)
        if rules then P.record_denials(mine) end
        if joined then audit('queued', person, licence, session, '', used) end
      end
      local wait = 0
      if reason ~= 'no_licence' then
        if leaving then
          wait = leaving(held - limit)
        else
          wait = pool_wait(math.max(used - capacity, 0))
        end
      end
      local estimate = -1
      if position > 0 then estimate = Q.estimate(position) end
      local refusal = {reason, '', 0, capacity, used, wait, group or '', limit, held, position,
        estimate}
      if marked then table.insert(refusal, 'harvested') end
      return refusal
    end
    fresh = true
  end
  local expiry = math.min(NOW + IDLE, created + MAX_AGE)
  redis.call('HSET', K.sessions, session, expiry .. ' ' .. created)
  -- A new slot gives back any charge record left from an old one, then takes its own.
  local latest, live = settle(person, K.sessions, licence, fresh)
  local ended = nil
  if outcome ~= 'renewed' and #live > MAX_SESSIONS then
    ended = end_oldest(person, licence, session, live)
    latest = settle(person, K.sessions, licence)
  end
  if taken and #mine > 0 then
    local record_ = P.record(taken, mine)
    redis.call('HSET', K.sessions, CHARGE, record_)
    P.place(person, record_, latest)
  end
  -- A new slot adds one to the live holders counted above.
  if fresh then used = used + 1 else used = in_use() end
  if outcome ~= 'renewed' then
    audit('admitted', person, licence, session, outcome, used, taken)
    record('a', used)
    -- Whoever is let in leaves the line (a waiter given a named seat too).
    if line then Q.leave(person, 'admitted') end
  end
  if marked then H.unmark(session) end
  if harvested then return {outcome, licence, expiry, capacity, used, 0, ended or {}, harvested} end
  if ended then return {outcome, licence, expiry, capacity, used, 0, ended} end
  return {outcome, licence, expiry, capacity, used, 0}
end

-- Renews a live session created at `created`, the most frequent call: it reads the person's
-- entry, never all their sessions, and their entry's expiry only grows. charge: the person's
-- charge record (see charges.lua), if any. Returns nil when the full admission must decide
-- instead: the person holds no live entry (their licence changed since), or they hold a pool
-- slot while in a named group (a seat may be free for them now).
local function renew(person, session, created, charge, named_group, pools_gen)
  local refused = unsettled(pools_gen)
  if refused then return refused end
  local zset, licence = K.pool, 'concurrent'
  local latest = tonumber(redis.call('ZSCORE', K.pool, person))
  if latest and named_group == '1' then return nil end
  if not latest then
    zset, licence = K.active, 'named'
    latest = tonumber(redis.call('ZSCORE', K.active, person))
  end
  if not latest or latest <= NOW then return nil end
  local expiry = math.min(NOW + IDLE, created + MAX_AGE)
  redis.call('HSET', K.sessions, session, expiry .. ' ' .. created)
  if expiry > latest then
    redis.call('ZADD', zset, expiry, person)
    if charge and licence == 'concurrent' then P.place(person, charge, expiry) end
  end
  return {'renewed', licence, expiry, capacity_cache[1], in_use(), 0}
end
