-- Changes the pool's slots and/or the named seats. Shrinking ends nobody's session: new
-- admissions wait until use falls below the new count.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] concurrent slots ('' to keep), ARGV[3] named seats ('' to keep), ARGV[4] who.
-- Returns {concurrent, named}.
cull(true)
if ARGV[2] ~= '' then redis.call('HSET', K_CONFIG, 'concurrent', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', K_CONFIG, 'named', ARGV[3]) end
forget_capacities()
local concurrent, named = capacities()
audit('resized', '', '', '', ARGV[4] .. ' concurrent=' .. concurrent .. ' named=' .. named)
return {concurrent, named}
