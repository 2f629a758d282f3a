-- Changes the pool's slots and/or the named seats. Shrinking ends nobody's session: new
-- admissions wait until use falls below the new count.
-- KEYS, ARGV[1..7]: see common.lua.
-- ARGV[8] concurrent slots ('' to keep), ARGV[9] named seats ('' to keep), ARGV[10] who.
-- Returns {concurrent, named}.
cull()
if ARGV[8] ~= '' then redis.call('HSET', K_CONFIG, 'concurrent', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', K_CONFIG, 'named', ARGV[9]) end
local concurrent, named = capacities()
audit('resized', '', '', '', ARGV[10] .. ' concurrent=' .. concurrent .. ' named=' .. named)
return {concurrent, named}
