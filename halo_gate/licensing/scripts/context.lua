-- The context of one call, shared by every function of the library. Redis runs one call at a
-- time, so these upvalues belong to the call under way: begin() sets every one of them afresh.
--
-- Keys. A call touches only the keys its operation declares: the header of each operation's
-- file names them ("-- KEYS: config pool ..."), the engine passes them in that order, and the
-- code reaches them as K.<name>; K raises an error for a name the call did not declare. Every
-- key starts with the installation's {hash tag}, so a call's keys share one Cluster slot.
--   config      HASH  concurrent, named (capacities), env_concurrent, env_named, env_reserve,
--                     env_cap (the deployment's last values); queue_len, queue_seq (the line's);
--                     reserve, cap, pools_gen, pools_count, numbers (see charges.lua);
--                     audit_sweep (see index_entry() in trail.lua)
--   pool        ZSET  concurrent person -> expiry (ms) of their latest session
--   active      ZSET  named person      -> expiry (ms) of their latest session
--   named       SET   people holding a named seat
--   quarantine  ZSET  unassigned person -> end of the seat's cooldown (ms)
--   ended       ZSET  session id ended -> end of its tombstone (ms)
--   audit       STREAM one entry per decision
--   audit_people ZSET  the audit stream's index by person (see index_entry() in trail.lua)
--   holder_names ZSET  every person in pool or active, scored 0 (see note_holder())
--   counters    HASH  since the installation began: admitted:<licence>, denied:<reason>,
--                     released:<cause> (the metrics' counters)
--   charges     ZSET  the department pools' slots, per group (see charges.lua)
--   sessions    HASH  the person's sessions: id -> "expiry created" (ms); and, while they hold
--                     a pool slot charged under pool rules, CHARGE -> the charge record
--   people      the sessions hashes of the people the call names in ARGV (cull.lua, configure.lua)
--   history     HASH  today's per-minute usage: pM (peak in use), aM (admissions), dM (denials),
--                     fM (slots freed), "gM G" (denials of members of group G); and per hour:
--                     PH (peak), DH (denials), "GH G" (group G's), HH (people harvested);
--                     history_before is yesterday's (days in UTC, on Redis's clock)
--   record      LIST  the sessions closed (or found idled out) today, one entry each (trail.lua)
--   queue, waiting, offers, waiters, queue_classes, queue_lines, queue_refused
--               the waiting line (see line.lua)
-- ARGV[1] packs the settings, '|'-separated: clock offset (ms, added to Redis TIME; 0 outside
-- tests), idle timeout (ms), session max age (ms), audit stream cap, history retention (s),
-- named seat cooldown (ms), the line's most waiters (0: no line), a waiter's grace (ms), an
-- offer's life (ms), the most sessions a person may hold, the harvest threshold (ms, 0: off;
-- see harvest.lua), and the day (days since the epoch)
-- the engine took for today when it named history, history_before and record. ARGV[2..] are
-- the operation's own.
-- A person's entry in pool or active exists exactly while their sessions hash does, and its
-- score is the latest expiry among those sessions, so a person expires with their last session.

local ARGV, K, NOW, DAY
local IDLE, MAX_AGE, AUDIT_CAP, HISTORY_TTL, COOLDOWN, QUEUE_MAX, GRACE, OFFER, MAX_SESSIONS
local HARVEST
-- (concurrent slots, named seats, whether there are settings at all, the pool rules'
-- generation, the line's length), read once per call; the pool rules and the groups' numbers,
-- parsed once per call (see charges.lua); which expired holders the call names in its reply
-- (false: none, 'pool' or 'all': see cull() in holders.lua).
local capacity_cache, rules_cache, numbers_cache, reserving_cache, report
-- The field of a person's sessions hash that keeps their pool slot's charge. Session ids are
-- URL-safe tokens, so none is ever '!'.
local CHARGE = '!'
-- Bounded work per call: each call removes at most this many expired entries of each kind.
local CULL_LIMIT = 32
local DAY_MS = 86400000

local UNDECLARED = {
  __index = function(_, name)
    error('the key ' .. tostring(name) .. ' is not among the KEYS this call declared', 2)
  end,
}

-- The settings as numbers, by their text: the same few texts come with every call, so each
-- is parsed once (a cache, not state: a library loaded afresh parses them again).
local parsed_settings, settings_count = {}, 0
local function settings(text)
  local found = parsed_settings[text]
  if not found then
    found = {string.match(text,
      '^(-?%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(-?%d+)$')}
    for i = 1, #found do found[i] = tonumber(found[i]) end
    if settings_count >= 64 then parsed_settings, settings_count = {}, 0 end
    parsed_settings[text], settings_count = found, settings_count + 1
  end
  return found
end

-- Sets up a call: its keys by name in `keyed` (the operation's own table, filled afresh at
-- every call), its settings and Redis's clock. Returns an error reply when the engine named
-- the keys of another day than today's.
local function begin(names, keyed, keys, args)
  ARGV, K = args, keyed
  local count = #names
  for i = 1, count do K[names[i]] = keys[i] end
  if #keys > count then
    local people = {}
    for i = count + 1, #keys do table.insert(people, keys[i]) end
    K.people = people
  else
    rawset(K, 'people', nil)
  end
  local given = settings(args[1])
  IDLE, MAX_AGE, AUDIT_CAP, HISTORY_TTL = given[2], given[3], given[4], given[5]
  COOLDOWN, QUEUE_MAX, GRACE, OFFER = given[6], given[7], given[8], given[9]
  MAX_SESSIONS, HARVEST, DAY = given[10], given[11], given[12]
  local clock = redis.call('TIME')
  NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + given[1]
  capacity_cache, rules_cache, numbers_cache, report = nil, nil, nil, false
  if DAY ~= math.floor(NOW / DAY_MS) and (rawget(K, 'history') or rawget(K, 'record')) then
    return redis.error_reply('DAY ' .. math.floor(NOW / DAY_MS))
  end
  return nil
end

-- Sorted sets that keep many ranges in one key (charges, queue_lines) score a member
-- part * SPAN + value: each part's members are one range, in the order of their values (an
-- expiry in ms until the year 2109, a ticket), and scores stay exact integers while
-- part < 2^11.
local SPAN = 2 ^ 42

-- A whole number as Redis reads it back exactly (Lua would print a large one with an exponent).
local function whole(number)
  return string.format('%.0f', number)
end

-- (concurrent slots, named seats), read once per call; scripts that change them call
-- forget_capacities(). capacity_cache[3] says whether the installation has settings at all,
-- [4] is the pool rules' generation ('0': no rules), [5] how many wait in line, [6] the
-- groups' numbers, [7] and [8] the rules' texts (see charges.lua).
local function capacities()
  if not capacity_cache then
    local c = redis.call('HMGET', K.config, 'concurrent', 'named', 'pools_gen', 'queue_len',
      'numbers', 'reserve', 'cap')
    capacity_cache = {tonumber(c[1]) or 0, tonumber(c[2]) or 0, (c[1] or c[2]) ~= false,
      c[3] or '0', tonumber(c[4]) or 0, c[5] or '', c[6] or '', c[7] or ''}
  end
  return capacity_cache[1], capacity_cache[2]
end

local function forget_capacities()
  capacity_cache, rules_cache, numbers_cache = nil, nil, nil
end

local function in_use()
  return redis.call('ZCOUNT', K.pool, '(' .. NOW, '+inf')
end

-- Notes whether `person` has an entry in pool or active (holds: true) in holder_names, where
-- every such person is a member scored 0, so that the console finds holders by the beginning
-- of their name (ZRANGEBYLEX: O(log n + page)) instead of walking every holder. Called
-- wherever an entry comes or goes.
local function note_holder(person, holds)
  if holds then
    redis.call('ZADD', K.holder_names, 0, person)
  else
    redis.call('ZREM', K.holder_names, person)
  end
end

-- Milliseconds until the (k+1)-th soonest-leaving live pool holder has left, found by rank
-- (the expired holders not culled yet rank first); with fewer holders, the last one's expiry.
local function pool_wait(k)
  local expired = redis.call('ZCOUNT', K.pool, '-inf', NOW)
  local at = redis.call('ZRANGE', K.pool, expired + k, expired + k, 'WITHSCORES')
  if #at == 0 then at = redis.call('ZRANGE', K.pool, -1, -1, 'WITHSCORES') end
  if #at == 0 or tonumber(at[2]) <= NOW then return 1000 end
  return tonumber(at[2]) - NOW
end

-- Removes from `zset` (scored by an end, ms) at most CULL_LIMIT members that have ended.
local function cull_zset(zset)
  local n = redis.call('ZCOUNT', zset, '-inf', NOW)
  if n > 0 then redis.call('ZREMRANGEBYRANK', zset, 0, math.min(n, CULL_LIMIT) - 1) end
end

local function zset_of(licence)
  if licence == 'named' then return K.active, K.pool end
  return K.pool, K.active
end
