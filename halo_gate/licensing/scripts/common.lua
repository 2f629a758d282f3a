-- Shared preamble, prepended to every script of this folder when it is loaded.
--
-- KEYS[1] is the one declared key: the person's sessions hash, or the config hash when the
-- decision concerns no person. It routes the call to the installation's cluster slot; every
-- other key shares its {hash tag}, so the script may name them from the prefix:
--   config      HASH  concurrent, named (capacities), env_concurrent, env_named
--   pool        ZSET  concurrent person -> expiry (ms) of their latest session
--   active      ZSET  named person      -> expiry (ms) of their latest session
--   named       SET   people holding a named seat
--   quarantine  ZSET  unassigned person -> end of the seat's cooldown (ms)
--   ended       ZSET  session id ended by an administrator -> end of its tombstone (ms)
--   audit       STREAM one entry per decision
--   sessions:P  HASH  person P's sessions: id -> "expiry created" (ms)
--   history:D   HASH  day D's per-minute usage: pM (peak in use), aM (admissions), dM (denials)
--   record:D    LIST  sessions closed on day D, one entry each (see closed())
--   counters    HASH  since the installation began: admitted:<licence>, denied:<reason>,
--                     released:<cause> (the metrics' counters)
-- ARGV[1] packs the settings, '|'-separated: key prefix ("{tag}:"), clock offset (ms, added to
-- Redis TIME; 0 outside tests), idle timeout (ms), session max age (ms), audit stream cap,
-- history retention (s), named seat cooldown (ms). ARGV[2..] are the decision's own.
-- A person's entry in pool or active exists exactly while their sessions hash does, and its
-- score is the latest expiry among those sessions, so a person expires with their last session.

local PREFIX, offset, IDLE, MAX_AGE, AUDIT_CAP, HISTORY_TTL, COOLDOWN =
  string.match(ARGV[1], '^(.*)|(-?%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$')
IDLE, MAX_AGE, HISTORY_TTL, COOLDOWN =
  tonumber(IDLE), tonumber(MAX_AGE), tonumber(HISTORY_TTL), tonumber(COOLDOWN)
local K_CONFIG, K_POOL, K_ACTIVE = PREFIX .. 'config', PREFIX .. 'pool', PREFIX .. 'active'
local K_NAMED, K_QUARANTINE = PREFIX .. 'named', PREFIX .. 'quarantine'
local K_ENDED, K_AUDIT, K_SESSIONS = PREFIX .. 'ended', PREFIX .. 'audit', KEYS[1]
local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(offset)
-- Bounded work per call: each call removes at most this many expired entries of each kind.
local CULL_LIMIT = 32

local function sessions_key(person)
  return PREFIX .. 'sessions:' .. person
end

local capacity_cache = nil
-- (concurrent slots, named seats), read once per call; scripts that change them call forget().
-- capacity_cache[3] says whether the installation has settings at all.
local function capacities()
  if not capacity_cache then
    local c = redis.call('HMGET', K_CONFIG, 'concurrent', 'named')
    capacity_cache = {tonumber(c[1]) or 0, tonumber(c[2]) or 0, (c[1] or c[2]) ~= false}
  end
  return capacity_cache[1], capacity_cache[2]
end

local function forget_capacities()
  capacity_cache = nil
end

local function in_use()
  return redis.call('ZCOUNT', K_POOL, '(' .. NOW, '+inf')
end

local function zset_of(licence)
  if licence == 'named' then return K_ACTIVE, K_POOL end
  return K_POOL, K_ACTIVE
end

-- used (the slots in use) may be given by a caller that has just counted them.
local function audit(event, person, licence, session, reason, used)
  local cap = capacities()
  redis.call('XADD', K_AUDIT, 'MAXLEN', AUDIT_CAP, '*', 'event', event, 'at', NOW,
    'user', person, 'licence', licence, 'session', session, 'reason', reason or '',
    'in_use', used or in_use(), 'capacity', cap)
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

-- Drops the person's expired sessions (auditing each) and returns the latest expiry left, or 0.
local function prune(person, skey, licence)
  local all = redis.call('HGETALL', skey)
  local latest = 0
  for i = 1, #all, 2 do
    local expiry = tonumber(string.match(all[i + 1], '^%d+'))
    if expiry <= NOW then
      redis.call('HDEL', skey, all[i])
      dropped(person, licence, all[i], all[i + 1])
    elseif expiry > latest then
      latest = expiry
    end
  end
  return latest
end

-- Makes the person's entry in the right zset match their sessions after a change.
local function settle(person, skey, licence)
  local zset, other = zset_of(licence)
  local latest = prune(person, skey, licence)
  redis.call('ZREM', other, person)
  if latest == 0 then
    redis.call('ZREM', zset, person)
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
    for i = 1, #all, 2 do dropped(person, licence, all[i], all[i + 1]) end
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

-- The admission decision for one session. Returns the reply every admitting script gives:
-- {outcome, licence, expires_at_ms, capacity, in_use, retry_after_ms}.
local function admit(person, session, named_group, created, outcome)
  local capacity = capacities()
  if not capacity_cache[3] then
    -- No settings: the store lost its data (restarted empty, flushed) or was never configured.
    -- Deciding with 0 slots and no seats would lock everyone out; the engine applies the
    -- deployment's settings again, as a starting worker does, and repeats the call.
    return redis.error_reply('UNCONFIGURED installation ' .. PREFIX .. ' has no settings')
  end
  local licence = licence_of(person)
  if licence == 'concurrent' and named_group == '1' and seat_free_for(person) then
    take_seat(person, 'group')
    licence = 'named'
  end
  if licence == 'concurrent' and (tonumber(redis.call('ZSCORE', K_POOL, person)) or 0) <= NOW then
    -- The person holds no live slot, so dropping their stale sessions below leaves this count.
    local used = in_use()
    local reason = nil
    if capacity == 0 then reason = 'no_licence' elseif used >= capacity then reason = 'pool_full' end
    if reason then
      -- A refused session keeps nothing: the next attempt starts afresh.
      if redis.call('HDEL', K_SESSIONS, session) == 1 then settle(person, K_SESSIONS, licence) end
      audit('denied', person, licence, session, reason, used)
      record('d', used)
      local wait = 0
      if reason == 'pool_full' then wait = retry_after_ms(capacity, used) end
      return {reason, '', 0, capacity, used, wait}
    end
  end
  local expiry = math.min(NOW + IDLE, created + MAX_AGE)
  redis.call('HSET', K_SESSIONS, session, expiry .. ' ' .. created)
  settle(person, K_SESSIONS, licence)
  local used = in_use()
  if outcome ~= 'renewed' then
    audit('admitted', person, licence, session, outcome, used)
    record('a', used)
  end
  return {outcome, licence, expiry, capacity, used, 0}
end
