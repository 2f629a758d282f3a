-- Records the waiting line's length in the usage history of the current minute: field qM of
-- history:D, the most kept, beside the minute's peak (pM), admissions (aM) and denials (dM)
-- that the decision scripts record (see common.lua's record()).
-- KEYS[1] history:D, for the day D the caller expects it to be.
-- ARGV[1] clock offset (ms), ARGV[2] D (days since the epoch), ARGV[3] the length seen,
-- ARGV[4] the history's retention (s).
-- Returns -1 when recorded (or not longer than already recorded); the store's day instead,
-- writing nothing, when it is not D (the caller's clock is on the other side of midnight).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(ARGV[1])
local minute = math.floor(now / 60000)
local day = math.floor(minute / 1440)
if day ~= tonumber(ARGV[2]) then return day end
local length = tonumber(ARGV[3])
if (tonumber(redis.call('HGET', KEYS[1], 'q' .. minute)) or -1) < length then
  redis.call('HSET', KEYS[1], 'q' .. minute, length)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return -1
