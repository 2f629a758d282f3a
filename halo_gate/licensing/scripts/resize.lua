-- Changes the pool's slots and/or the named seats. Shrinking ends nobody's session: new
-- admissions wait until use falls below the new count.
-- KEYS: config pool active quarantine ended audit audit_people holder_names counters
-- ARGV: [1] the settings (see context.lua), [2] concurrent slots ('' to keep), [3] named
--       seats ('' to keep), [4] who.
-- Returns {concurrent, named}.
cull(true)
if ARGV[2] ~= '' then redis.call('HSET', K.config, 'concurrent', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', K.config, 'named', ARGV[3]) end
forget_capacities()
local concurrent, named = capacities()
audit('resized', '', '', '', ARGV[4] .. ' concurrent=' .. concurrent .. ' named=' .. named)
return {concurrent, named}
