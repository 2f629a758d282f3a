-- What every decision leaves behind: the audit stream, the counters, the per-minute history
-- and the session record.

-- The audit stream's index by person (audit_people): one member per entry,
-- "<person>\0<entry id, padded>", all scored 0, so that a person's entries are one range in
-- lexical order, oldest first (ZREVRANGEBYLEX reads the newest). An entry id "ms-seq" is padded
-- to fixed widths so that its text sorts as its number does.
local function indexed_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 20 - #ms) .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq
end
local PADDED_ID = 41  -- the length of an indexed_id()
-- Members looked at per audit entry written while the index holds more than the stream's cap
-- (see index_entry()): more than the one entry the write adds, so the index does not grow.
local SWEEP = 4

-- Indexes a new audit entry under its person. The stream forgets its oldest entries as it is
-- trimmed; their members here are removed by a sweep that walks the index a few members per
-- write, only while the index is larger than the stream's cap (it then holds some of them),
-- with its place kept in config's audit_sweep.
local function index_entry(person, id)
  redis.call('ZADD', K.audit_people, 0, person .. '\0' .. indexed_id(id))
  if redis.call('ZCARD', K.audit_people) <= AUDIT_CAP then return end
  local first = redis.call('XRANGE', K.audit, '-', '+', 'COUNT', 1)[1]
  if not first then return end
  local oldest = indexed_id(first[1])
  local from = redis.call('HGET', K.config, 'audit_sweep')
  local batch = redis.call('ZRANGEBYLEX', K.audit_people, from and ('(' .. from) or '-', '+',
    'LIMIT', 0, SWEEP)
  for _, member in ipairs(batch) do
    if string.sub(member, -PADDED_ID) < oldest then redis.call('ZREM', K.audit_people, member) end
  end
  if #batch < SWEEP then
    redis.call('HDEL', K.config, 'audit_sweep')
  else
    redis.call('HSET', K.config, 'audit_sweep', batch[#batch])
  end
end

-- used (the slots in use) may be given by a caller that has just counted them. group, given
-- by admissions under pool rules, is the group charged or refused ('' for the shared part).
-- The stream is trimmed to about AUDIT_CAP entries ('~': whole nodes at a time, so it keeps
-- at least AUDIT_CAP, and at most a node's worth more).
local function audit(event, person, licence, session, reason, used, group)
  local cap = capacities()
  local id
  if group then
    id = redis.call('XADD', K.audit, 'MAXLEN', '~', AUDIT_CAP, '*', 'event', event, 'at', NOW,
      'user', person, 'licence', licence, 'session', session, 'reason', reason or '',
      'in_use', used or in_use(), 'capacity', cap, 'group', group)
  else
    id = redis.call('XADD', K.audit, 'MAXLEN', '~', AUDIT_CAP, '*', 'event', event, 'at', NOW,
      'user', person, 'licence', licence, 'session', session, 'reason', reason or '',
      'in_use', used or in_use(), 'capacity', cap)
  end
  index_entry(person, id)
  if event == 'admitted' then
    redis.call('HINCRBY', K.counters, 'admitted:' .. licence, 1)
  elseif event == 'denied' then
    redis.call('HINCRBY', K.counters, 'denied:' .. (reason or ''), 1)
  end
end

-- Adds one to today's field `name` of the history. The day's hash is kept for the history's
-- retention from the last time a field of it was first counted.
local function count_today(name)
  if redis.call('HINCRBY', K.history, name, 1) == 1 then
    redis.call('EXPIRE', K.history, HISTORY_TTL)
  end
end

-- The usage history, per minute (what the console draws): admissions ('a') or denials ('d'),
-- and the peak in use ('p'), which only an admission can raise; and per hour (what usage
-- reads, so that its work does not grow with the minutes of a day): the peak ('P'), the
-- denials ('D') and each group's members' denials ('G', see P.record_denials); harvests
-- ('H') are counted by yield() in harvest.lua. used may be given by a caller that has just
-- counted the slots in use.
local function record(counter, used)
  local minute = math.floor(NOW / 60000)
  local hour = math.floor(minute / 60)
  count_today(counter .. minute)
  if counter == 'd' then count_today('D' .. hour) end
  used = used or in_use()
  local peaks = redis.call('HMGET', K.history, 'p' .. minute, 'P' .. hour)
  if used > (tonumber(peaks[1]) or -1) then
    if used > (tonumber(peaks[2]) or -1) then
      redis.call('HSET', K.history, 'p' .. minute, used, 'P' .. hour, used)
    else
      redis.call('HSET', K.history, 'p' .. minute, used)
    end
  end
  return used
end

-- A pool slot has freed (its holder's last session ended or expired): counted per minute as
-- fM in the history, for the line's estimated wait.
local function freed()
  count_today('f' .. math.floor(NOW / 60000))
end

-- The session record: one entry per closed session in today's list, kept for the history
-- retention whatever the audit stream's cap. An entry is
-- "<start s> <duration s> <reason><licence><person>": reason one of l(ogout) i(dle) m(ax_age)
-- a(dmin) u(nassigned) s(ession_cap: past the most sessions a person may hold) h(arvested:
-- idle while another needed the slot), licence n or c; the person last, so it may hold any
-- character.
-- value is the session's "expiry created" (ms); ended the end (ms). A session found idled out
-- later than the day it ended on is recorded on the day it is found, with its true end.
local REASON_CODES = {logout = 'l', idle = 'i', max_age = 'm', admin = 'a', unassigned = 'u',
  session_cap = 's', harvested = 'h'}
local function closed(person, licence, value, ended, reason)
  local created = tonumber(string.match(value, ' (%d+)$'))
  local start = math.floor(created / 1000)
  local entry = start .. ' ' .. math.max(math.floor(ended / 1000) - start, 0) .. ' ' ..
    REASON_CODES[reason] .. string.sub(licence, 1, 1) .. person
  if redis.call('RPUSH', K.record, entry) == 1 then redis.call('EXPIRE', K.record, HISTORY_TTL) end
  redis.call('HINCRBY', K.counters, 'released:' .. reason, 1)
end

local function end_marker(session)
  redis.call('ZADD', K.ended, NOW + math.max(IDLE, MAX_AGE), session)
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
