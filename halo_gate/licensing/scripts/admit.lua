-- Admits a person into a new session: a named seat (held, or taken by group while one is free),
-- else a concurrent slot (one per person, however many sessions), else a refusal.
-- KEYS, ARGV[1..7]: see common.lua; KEYS[8] is the person's sessions hash.
-- ARGV[8] person, ARGV[9] session id, ARGV[10] '1' when the person is in a named group.
-- Returns {outcome ('admitted' | 'pool_full' | 'no_licence'), licence, expires_at_ms, capacity,
--          in_use, retry_after_ms}.
cull()
return admit(ARGV[8], ARGV[9], ARGV[10], NOW, 'admitted')
