-- Assigns a named seat to a person, never beyond the seats (quarantined seats count as taken).
-- The person's live sessions move from the pool to the seat, freeing their slot.
-- KEYS: sessions config pool active named quarantine ended audit audit_people holder_names counters charges history
--       record
-- ARGV: [1] the settings (see context.lua), [2] person, [3] who assigned it.
-- Returns 'assigned', 'already' or 'no_seat'.
cull(true)
local person = ARGV[2]
if redis.call('SISMEMBER', K.named, person) == 1 then return 'already' end
if not seat_free_for(person) then
  audit('denied', person, 'named', '', 'no_seat')
  return 'no_seat'
end
take_seat(person, ARGV[3])
settle(person, K.sessions, 'named')
return 'assigned'
