-- Assigns a named seat to a person, never beyond the seats (quarantined seats count as taken).
-- The person's live sessions move from the pool to the seat, freeing their slot.
-- KEYS[1] the person's sessions hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] person, ARGV[3] who assigned it.
-- Returns 'assigned', 'already' or 'no_seat'.
cull(true)
local person = ARGV[2]
if redis.call('SISMEMBER', K_NAMED, person) == 1 then return 'already' end
if not seat_free_for(person) then
  audit('denied', person, 'named', '', 'no_seat')
  return 'no_seat'
end
take_seat(person, ARGV[3])
settle(person, K_SESSIONS, 'named')
return 'assigned'
