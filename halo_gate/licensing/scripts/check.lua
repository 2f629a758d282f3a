-- Reads whether a session is still live, renewing nothing: what a passive path, a public path or
-- the gateway's own routes ask at each heartbeat interval, so that a session ended elsewhere
-- (logout on another worker, an administrator, its maximum age) is refused there too.
-- KEYS: sessions ended
-- ARGV: [1] the settings (see context.lua), [2] person, [3] session id.
-- Returns 'live', 'ended' (tombstoned, or past its maximum age) or 'lost' (expired or never
-- known here, e.g. the store restarted: the next heartbeat re-admits it if it can).
local record_ = redis.call('HGET', K.sessions, ARGV[3])
if record_ then
  local expiry, created = string.match(record_, '^(%d+) (%d+)$')
  if tonumber(created) + MAX_AGE <= NOW then return 'ended' end
  if tonumber(expiry) > NOW then return 'live' end
  return 'lost'
end
if (tonumber(redis.call('ZSCORE', K.ended, ARGV[3])) or 0) > NOW then return 'ended' end
return 'lost'
