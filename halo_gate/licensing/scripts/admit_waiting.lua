-- Admits a person into a new session as admit.lua does, with the waiting line: when someone
-- waits (free slots go to the line first), or the person refused takes a place in it.
-- KEYS: sessions config pool active named quarantine ended audit audit_people holder_names counters charges history
--       history_before record queue waiting offers waiters queue_classes queue_lines
--       queue_refused people...
-- ARGV: [1] the settings (see context.lua), [2] person, [3] session id, [4] '1' when the person
--       is in a named group, [5] the generation of pool rules the caller knows, [6..] the
--       person's groups that the rules name. people: the sessions hashes of the idle holders
--       an earlier answer named for harvesting, if any (see harvest.lua).
-- Returns {outcome ('admitted' | 'pool_full' | 'group_cap' | 'queue_full' | 'no_licence' |
--          'ended'), licence, expires_at_ms, capacity, in_use, retry_after_ms}, a refusal also
--          {group, limit, held, position, estimated wait} (see admission.lua); or
--          {'harvest', person...} (see harvest.lua).
-- An UNCONFIGURED error when the installation has no settings, a POOLS error when the pool
-- rules changed since the caller learnt them (see admission.lua).
-- 'ended' when the session id was abandoned (see release.lua): the gateway gave up waiting for
-- this admission and released the id, so an admission arriving after that takes no slot.
cull()
if (tonumber(redis.call('ZSCORE', K.ended, '~' .. ARGV[3])) or 0) > NOW then
  return {'ended', '', 0, capacities(), in_use(), 0}
end
return admit(ARGV[2], ARGV[3], ARGV[4], NOW, 'admitted', ARGV[5])
