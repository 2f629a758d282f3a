-- Admits a person into a new session: a named seat (held, or taken by group while one is free),
-- else a concurrent slot (one per person, however many sessions), else a refusal.
-- KEYS[1] the person's sessions hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] person, ARGV[3] session id, ARGV[4] '1' when the person is in a named group.
-- Returns {outcome ('admitted' | 'pool_full' | 'no_licence'), licence, expires_at_ms, capacity,
--          in_use, retry_after_ms}.
-- An UNCONFIGURED error when the installation has no settings (see admit() in common.lua).
cull(true)
return admit(ARGV[2], ARGV[3], ARGV[4], NOW, 'admitted')
