-- Renews a session and the person's slot, whatever its case (the engine calls renew.lua first,
-- which renews a live one with fewer keys). A session ended by an administrator or past its
-- maximum age is reported 'ended'; one that was lost (expired, store restarted) is admitted
-- again when a licence is free ('readmitted'), else refused like a new admission.
-- KEYS: sessions config pool active named quarantine ended audit audit_people holder_names counters charges history
--       history_before record queue waiting offers waiters queue_classes
--       queue_lines queue_refused people...
-- ARGV: as admit.lua's; people as admit_waiting.lua's.
-- Returns {outcome ('renewed' | 'readmitted' | 'ended' | 'pool_full' | 'group_cap' |
--          'queue_full' | 'no_licence'), licence, expires_at_ms, capacity, in_use,
--          retry_after_ms}, a refusal also {group, limit, held, position, estimated wait}
--          (and 'harvested' for a session harvested earlier); or {'harvest', person...} (see
--          harvest.lua).
-- An UNCONFIGURED or POOLS error as for admit.lua (see admission.lua).
-- Only a readmission culls: counts never include expired entries anyway, and entries are only
-- ever created by admissions, so culling there keeps them bounded while a renewal, by far the
-- most frequent call, stays cheap.
local person, session, gen = ARGV[2], ARGV[3], ARGV[5]
local record_ = redis.call('HGET', K.sessions, session)
if not record_ then
  if (tonumber(redis.call('ZSCORE', K.ended, session)) or 0) > NOW then
    return {'ended', '', 0, capacities(), in_use(), 0}
  end
  cull()
  return admit(person, session, ARGV[4], NOW, 'readmitted', gen)
end
local expiry, created = string.match(record_, '^(%d+) (%d+)$')
expiry, created = tonumber(expiry), tonumber(created)
if created + MAX_AGE <= NOW then
  local licence = held_licence(person)
  redis.call('HDEL', K.sessions, session)
  cull_zset(K.ended)
  end_marker(session)
  settle(person, K.sessions, licence)
  audit('ended', person, licence, session, 'max_age')
  closed(person, licence, record_, created + MAX_AGE, 'max_age')
  return {'ended', '', 0, capacities(), in_use(), 0}
end
if expiry <= NOW then
  cull()
  -- A session the cull dropped is already recorded; one refused below is gone for good too,
  -- and closed when it idled out (not when the call is only to be repeated, see admission.lua).
  local kept = redis.call('HEXISTS', K.sessions, session) == 1
  local licence = held_licence(person)
  local reply = admit(person, session, ARGV[4], created, 'readmitted', gen)
  if kept and not reply.err and reply[1] ~= 'readmitted' and reply[1] ~= 'harvest' then
    closed(person, licence, record_, expiry, 'idle')
  end
  return reply
end
return renew(person, session, created, redis.call('HGET', K.sessions, CHARGE), ARGV[4], gen)
  or admit(person, session, ARGV[4], created, 'renewed', gen)
