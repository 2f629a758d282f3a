-- Assigns a named seat to a person, never beyond the seats (quarantined seats count as taken).
-- The person's live sessions move from the pool to the seat, freeing their slot.
-- KEYS, ARGV[1..7]: see common.lua; KEYS[8] is the person's sessions hash.
-- ARGV[8] person, ARGV[9] who assigned it.
-- Returns 'assigned', 'already' or 'no_seat'.
cull()
local person = ARGV[8]
if redis.call('SISMEMBER', K_NAMED, person) == 1 then return 'already' end
if not seat_free_for(person) then return 'no_seat' end
take_seat(person, ARGV[9])
settle(person, K_SESSIONS, 'named')
return 'assigned'
