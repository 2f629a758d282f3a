-- Shared preamble, prepended to every script of this folder when it is loaded.
--
-- KEYS[1] is the one declared key: the person's sessions hash, or the config hash when the
-- decision concerns no person. It routes the call to the installation's cluster slot; every
-- other key shares its {hash tag}, so the script may name them from the prefix:
--   config      HASH  concurrent, named (capacities), env_concurrent, env_named; queue_len
--                     (the waiting line's length, kept by queue.lua); reserve, cap
--                     (pool rules, "group=N,..."), env_reserve, env_cap, pools_gen (the rules'
--                     generation: '0' while there are none, else a number never used before,
--                     so a worker knows its list of groups is stale), pools_count
--   pool        ZSET  concurrent person -> expiry (ms) of their latest session
--   active      ZSET  named person      -> expiry (ms) of their latest session
--   named       SET   people holding a named seat
--   quarantine  ZSET  unassigned person -> end of the seat's cooldown (ms)
--   ended       ZSET  session id ended by an administrator -> end of its tombstone (ms)
--   audit       STREAM one entry per decision
--   sessions:P  HASH  person P's sessions: id -> "expiry created" (ms); and, while P holds a
--                     pool slot charged under pool rules, CHARGE -> the charge (see
--                     pool_rules.lua)
--   history:D   HASH  day D's per-minute usage: pM (peak in use), aM (admissions), dM (denials)
--   record:D    LIST  sessions closed on day D, one entry each (see closed())
--   counters    HASH  since the installation began: admitted:<licence>, denied:<reason>,
--                     released:<cause> (the metrics' counters)
--   pool_use, group_history:D  the department pools' counts (see pool_rules.lua)
--   queue, waiting, offers, waiters, queue_seq  the waiting line (see queue.lua)
-- ARGV[1] packs the settings, '|'-separated: key prefix ("{tag}:"), clock offset (ms, added to
-- Redis TIME; 0 outside tests), idle timeout (ms), session max age (ms), audit stream cap,
-- history retention (s), named seat cooldown (ms), the line's most waiters (0: no line), a
-- waiter's grace (ms), an offer's life (ms). ARGV[2..] are the decision's own.
-- A person's entry in pool or active exists exactly while their sessions hash does, and its
-- score is the latest expiry among those sessions, so a person expires with their last session.

local PREFIX, offset, IDLE, MAX_AGE, AUDIT_CAP, HISTORY_TTL, COOLDOWN, QUEUE_MAX, GRACE, OFFER =
  string.match(ARGV[1], '^(.*)|(-?%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$')
IDLE, MAX_AGE, HISTORY_TTL, COOLDOWN =
  tonumber(IDLE), tonumber(MAX_AGE), tonumber(HISTORY_TTL), tonumber(COOLDOWN)
QUEUE_MAX, GRACE, OFFER = tonumber(QUEUE_MAX), tonumber(GRACE), tonumber(OFFER)
local K_CONFIG, K_POOL, K_ACTIVE = PREFIX .. 'config', PREFIX .. 'pool', PREFIX .. 'active'
local K_NAMED, K_QUARANTINE = PREFIX .. 'named', PREFIX .. 'quarantine'
local K_ENDED, K_AUDIT, K_SESSIONS = PREFIX .. 'ended', PREFIX .. 'audit', KEYS[1]
-- The field of a person's sessions hash that keeps their pool slot's charge. Session ids are
-- URL-safe tokens, so none is ever '!'.
local CHARGE = '!'
local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(offset)
-- Bounded work per call: each call removes at most this many expired entries of each kind.
local CULL_LIMIT = 32

local function sessions_key(person)
  return PREFIX .. 'sessions:' .. person
end

local capacity_cache, rules_cache = nil, nil
-- (concurrent slots, named seats), read once per call; scripts that change them call forget().
-- capacity_cache[3] says whether the installation has settings at all, [4] is the pool rules'
-- generation ('0': no rules), [5] how many wait in line (see queue.lua), read in the same call.
local function capacities()
  if not capacity_cache then
    local c = redis.call('HMGET', K_CONFIG, 'concurrent', 'named', 'pools_gen', 'queue_len')
    capacity_cache = {tonumber(c[1]) or 0, tonumber(c[2]) or 0, (c[1] or c[2]) ~= false,
      c[3] or '0', tonumber(c[4]) or 0}
  end
  return capacity_cache[1], capacity_cache[2]
end

local function forget_capacities()
  capacity_cache, rules_cache = nil, nil
end

-- The department pools' and the waiting line's functions, made on demand (see pool_rules.lua
-- and queue.lua).
local pool_lib, queue_lib

local function in_use()
  return redis.call('ZCOUNT', K_POOL, '(' .. NOW, '+inf')
end

local function zset_of(licence)
  if licence == 'named' then return K_ACTIVE, K_POOL end
  return K_POOL, K_ACTIVE
end

-- used (the slots in use) may be given by a caller that has just counted them. group, given
-- by admissions under pool rules, is the group charged or refused ('' for the shared part).
local function audit(event, person, licence, session, reason, used, group)
  local cap = capacities()
  if group then
    redis.call('XADD', K_AUDIT, 'MAXLEN', AUDIT_CAP, '*', 'event', event, 'at', NOW,
      'user', person, 'licence', licence, 'session', session, 'reason', reason or '',
      'in_use', used or in_use(), 'capacity', cap, 'group', group)
  else
    redis.call('XADD', K_AUDIT, 'MAXLEN', AUDIT_CAP, '*', 'event', event, 'at', NOW,
      'user', person, 'licence', licence, 'session', session, 'reason', reason or '',
      'in_use', used or in_use(), 'capacity', cap)
  end
  if event == 'admitted' then
    redis.call('HINCRBY', PREFIX .. 'counters', 'admitted:' .. licence, 1)
  elseif event == 'denied' then
    redis.call('HINCRBY', PREFIX .. 'counters', 'denied:' .. (reason or ''), 1)
  end
end

-- Per-minute usage history: admissions ('a') or denials ('d'), and the peak in use, which
-- only an admission can raise; one hash per day. used may be given by a caller that has just
-- counted the slots in use.
local function record(counter, used)
  local minute = math.floor(NOW / 60000)
  local key = PREFIX .. 'history:' .. math.floor(minute / 1440)
  redis.call('HINCRBY', key, counter .. minute, 1)
  used = used or in_use()
  local peak = tonumber(redis.call('HGET', key, 'p' .. minute)) or -1
  if used > peak then
    redis.call('HSET', key, 'p' .. minute, used)
    redis.call('EXPIRE', key, HISTORY_TTL)
  end
  return used
end

-- The session record: one entry per closed session in a list per day of its end, kept for the
-- history retention whatever the audit stream's cap. An entry is
-- "<start s> <duration s> <reason><licence><person>": reason one of l(ogout) i(dle) m(ax_age)
-- a(dmin) u(nassigned), licence n or c; the person last, so it may hold any character.
-- value is the session's "expiry created" (ms); ended the end (ms).
local REASON_CODES = {logout = 'l', idle = 'i', max_age = 'm', admin = 'a', unassigned = 'u'}
local function closed(person, licence, value, ended, reason)
  local created = tonumber(string.match(value, ' (%d+)$'))
  local start = math.floor(created / 1000)
  local entry = start .. ' ' .. math.max(math.floor(ended / 1000) - start, 0) .. ' ' ..
    REASON_CODES[reason] .. string.sub(licence, 1, 1) .. person
  local key = PREFIX .. 'record:' .. math.floor(ended / 86400000)
  if redis.call('RPUSH', key, entry) == 1 then redis.call('EXPIRE', key, HISTORY_TTL) end
  redis.call('HINCRBY', PREFIX .. 'counters', 'released:' .. reason, 1)
end

local function end_marker(session)
  redis.call('ZADD', K_ENDED, NOW + math.max(IDLE, MAX_AGE), session)
end

-- Audits an expired session that has been dropped. One past its maximum age has ended rather
-- than idled out: it gets a tombstone, so a heartbeat after the entry is culled still answers
-- 'ended' instead of admitting the session afresh with a new maximum age.
local function dropped(person, licence, session, value)
  local created = tonumber(string.match(value, ' (%d+)$'))
  if created + MAX_AGE <= NOW then
    end_marker(session)
    audit('ended', person, licence, session, 'max_age')
    closed(person, licence, value, created + MAX_AGE, 'max_age')
  else
    audit('expired', person, licence, session)
    -- The slot was held until the session idled out, however late it is culled.
    closed(person, licence, value, tonumber(string.match(value, '^%d+')), 'idle')
  end
end

-- Drops the person's expired sessions (auditing each); returns the latest expiry left (or 0)
-- and the slot's charge record, if any.
local function prune(person, skey, licence)
  local all = redis.call('HGETALL', skey)
  local latest, charge = 0, nil
  for i = 1, #all, 2 do
    if all[i] == CHARGE then
      charge = all[i + 1]
    else
      local expiry = tonumber(string.match(all[i + 1], '^%d+'))
      if expiry <= NOW then
        redis.call('HDEL', skey, all[i])
        dropped(person, licence, all[i], all[i + 1])
      elseif expiry > latest then
        latest = expiry
      end
    end
  end
  return latest, charge
end

-- Makes the person's entry in the right zset match their sessions after a change. fresh says
-- the person has just taken a new slot, so any charge record left belongs to an old one.
local function settle(person, skey, licence, fresh)
  local zset, other = zset_of(licence)
  local latest, charge = prune(person, skey, licence)
  if charge and (latest == 0 or licence == 'named' or fresh) then
    -- No pool slot is held any more: its charge is given back, to the part it came from.
    redis.call('HDEL', skey, CHARGE)
    pool_lib().count(charge, -1)
  end
  if redis.call('ZREM', other, person) == 1 and other == K_POOL then queue_lib().freed() end
  if latest == 0 then
    if redis.call('ZREM', zset, person) == 1 and zset == K_POOL then queue_lib().freed() end
  else
    redis.call('ZADD', zset, latest, person)
  end
  return latest
end

-- The licence a person's live sessions are held under now.
local function held_licence(person)
  if redis.call('ZSCORE', K_ACTIVE, person) then return 'named' end
  return 'concurrent'
end

local function licence_of(person)
  if redis.call('SISMEMBER', K_NAMED, person) == 1 then return 'named' end
  return 'concurrent'
end

local function cull_people(zset, licence)
  local gone = redis.call('ZRANGEBYSCORE', zset, '-inf', NOW, 'LIMIT', 0, CULL_LIMIT)
  for _, person in ipairs(gone) do
    local skey = sessions_key(person)
    -- Their latest session has expired, so all of them have.
    local all = redis.call('HGETALL', skey)
    redis.call('DEL', skey)
    redis.call('ZREM', zset, person)
    if zset == K_POOL then queue_lib().freed() end
    for i = 1, #all, 2 do
      if all[i] == CHARGE then
        pool_lib().count(all[i + 1], -1)
      else
        dropped(person, licence, all[i], all[i + 1])
      end
    end
  end
end

local function cull_zset(zset)
  local n = redis.call('ZCOUNT', zset, '-inf', NOW)
  if n > 0 then redis.call('ZREMRANGEBYRANK', zset, 0, math.min(n, CULL_LIMIT) - 1) end
end

-- Every script culls expired people; the tombstones and quarantines go in the scripts that
-- read them (a heartbeat, the most frequent call, only reads a tombstone on a miss).
local function cull(all)
  cull_people(K_POOL, 'concurrent')
  cull_people(K_ACTIVE, 'named')
  if all then
    cull_zset(K_ENDED)
    cull_zset(K_QUARANTINE)
  end
end

local function seat_free_for(person)
  local _, seats = capacities()
  local held = redis.call('SCARD', K_NAMED) + redis.call('ZCOUNT', K_QUARANTINE, '(' .. NOW, '+inf')
  -- A person may take back the seat quarantined from themselves (it is counted in held), but
  -- only while the seats, perhaps shrunk since, still have room for it.
  if (tonumber(redis.call('ZSCORE', K_QUARANTINE, person)) or 0) > NOW then held = held - 1 end
  return held < seats
end

local function take_seat(person, by)
  redis.call('ZREM', K_QUARANTINE, person)
  redis.call('SADD', K_NAMED, person)
  audit('assigned', person, 'named', '', by)
end

-- Seconds until enough holders expire for a slot to free, at the latest.
local function retry_after_ms(capacity, used)
  local k = math.max(used - capacity, 0)
  local next = redis.call('ZRANGEBYSCORE', K_POOL, '(' .. NOW, '+inf', 'WITHSCORES', 'LIMIT', k, 1)
  if #next == 0 then return 1000 end
  return tonumber(next[2]) - NOW
end

-- The admission decision for one session. pools_gen is the generation of the pool rules the
-- caller knows; the person's groups among those the rules name are ARGV[6..]. Returns the
-- reply every admitting script gives: {outcome, licence, expires_at_ms, capacity, in_use,
-- retry_after_ms}, and for a refusal also {group, limit, held} (see P.charge in
-- pool_rules.lua), position in
-- the line (0: not in it) and estimated wait (ms, -1 unknown) (see queue.lua).
local function admit(person, session, named_group, created, outcome, pools_gen)
  local capacity = capacities()
  if not capacity_cache[3] then
    -- No settings: the store lost its data (restarted empty, flushed) or was never configured.
    -- Deciding with 0 slots and no seats would lock everyone out; the engine applies the
    -- deployment's settings again, as a starting worker does, and repeats the call.
    return redis.error_reply('UNCONFIGURED installation ' .. PREFIX .. ' has no settings')
  end
  if pools_gen ~= capacity_cache[4] then
    -- The caller chose the person's groups by rules that have changed since: it learns the
    -- new ones and repeats the call.
    return redis.error_reply('POOLS rules changed, now generation ' .. capacity_cache[4])
  end
  local licence = licence_of(person)
  if licence == 'concurrent' and named_group == '1' and seat_free_for(person) then
    take_seat(person, 'group')
    licence = 'named'
  end
  -- Whether anyone waits in line: read with the capacities, so a decision with nobody waiting
  -- makes no call for the line.
  local line = QUEUE_MAX > 0 and capacity_cache[5] > 0
  local taken, mine, fresh = nil, nil, false
  if licence == 'concurrent' and (tonumber(redis.call('ZSCORE', K_POOL, person)) or 0) <= NOW then
    -- The person holds no live slot, so dropping their stale sessions below leaves this count.
    local used = in_use()
    -- Without pool rules (generation '0') nothing more is read or made.
    local rules = capacity_cache[4] ~= '0' and pool_lib().rules()
    local reason, group, limit, held, leaving = nil, nil, capacity, used, nil
    if rules then
      mine = {}
      for i = 6, #ARGV do
        if rules.reserve[ARGV[i]] or rules.cap[ARGV[i]] then table.insert(mine, ARGV[i]) end
      end
    end
    if capacity == 0 then
      reason = 'no_licence'
    else
      if rules then pool_lib().cull_expired() end
      -- Once anyone waits, free slots go to the line first: the person is let in only if a slot
      -- is left for them after the waiters ahead of them whom the free slots would serve.
      if line then
        queue_lib().cull()
        reason, group, limit, held = queue_lib().walk(person, mine or {}, rules, capacity, used)
      end
      if reason then
        leaving = nil
      elseif rules then
        taken, reason, group, limit, held, leaving = pool_lib().charge(rules, mine, capacity, used)
      elseif used >= capacity then
        reason = 'pool_full'
      end
    end
    if reason then
      -- A refused session keeps nothing: the next attempt starts afresh.
      if redis.call('HDEL', K_SESSIONS, session) == 1 then settle(person, K_SESSIONS, licence) end
      -- A person refused for want of a slot takes (or keeps) a place in the line.
      local position, joined = 0, false
      if QUEUE_MAX > 0 and (reason == 'pool_full' or reason == 'group_cap') then
        position, joined = queue_lib().join(person, mine or {})
        if position == 0 then reason = 'queue_full' end
      end
      -- A waiter's poll is not a new refusal: only joining the line (or no line) is audited.
      if position == 0 or joined then
        audit('denied', person, licence, session, reason, used, rules and (group or ''))
        record('d', used)
        if rules then pool_lib().record_denials(mine) end
        if joined then audit('queued', person, licence, session, '', used) end
      end
      local wait = 0
      if reason ~= 'no_licence' then
        if leaving then
          wait = pool_lib().wait_for(held - limit, leaving)
        else
          wait = retry_after_ms(capacity, used)
        end
      end
      local estimate = -1
      if position > 0 then estimate = queue_lib().estimate(position) end
      return {reason, '', 0, capacity, used, wait, group or '', limit, held, position, estimate}
    end
    fresh = true
  end
  local expiry = math.min(NOW + IDLE, created + MAX_AGE)
  redis.call('HSET', K_SESSIONS, session, expiry .. ' ' .. created)
  -- A new slot gives back any charge record left from an old one, then takes its own.
  settle(person, K_SESSIONS, licence, fresh)
  if taken and #mine > 0 then
    local record_ = pool_lib().record(taken, mine)
    redis.call('HSET', K_SESSIONS, CHARGE, record_)
    pool_lib().count(record_, 1)
  end
  local used = in_use()
  if outcome ~= 'renewed' then
    audit('admitted', person, licence, session, outcome, used, taken)
    record('a', used)
    -- Whoever is let in leaves the line (a waiter given a named seat too).
    if line then queue_lib().leave(person, 'admitted') end
  end
  return {outcome, licence, expiry, capacity, used, 0}
end
