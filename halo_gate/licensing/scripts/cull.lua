-- Culls holders whose last session has expired, named by an earlier call's reply (see cull()
-- in holders.lua): each session is audited ('expired', or 'ended' past its maximum age) and
-- recorded, the slot's charge given back. At most CULL_LIMIT sessions go in one call (more
-- when one person alone holds more); a person who renewed since being named is left alone.
-- KEYS: config pool active ended audit audit_people holder_names counters charges history record people...
-- ARGV: [1] the settings (see context.lua), [2..] the people (people: their sessions hashes,
--       in the same order).
-- Returns the number of sessions culled.
-- Sessions past their maximum age leave tombstones: those that have ended go first.
cull_zset(K.ended)
local culled = 0
for i = 2, #ARGV do
  local gone = cull_person(ARGV[i], K.people[i - 1], culled > 0 and CULL_LIMIT - culled or nil)
  if gone then culled = culled + gone end
  if culled >= CULL_LIMIT then break end
end
return culled
