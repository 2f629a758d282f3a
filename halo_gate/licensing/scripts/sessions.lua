-- The live sessions, for administrators and the session record's export.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- Returns {now_ms, person, licence, session id, "expiry created" (ms), ...} for every live
-- session, named people first, each group in order of their latest expiry.
cull(true)
local reply = {NOW}
for _, licence in ipairs({'named', 'concurrent'}) do
  local zset = zset_of(licence)
  for _, person in ipairs(redis.call('ZRANGEBYSCORE', zset, '(' .. NOW, '+inf')) do
    local all = redis.call('HGETALL', sessions_key(person))
    for i = 1, #all, 2 do
      -- The slot's charge record (department pools) is not a session.
      if all[i] ~= CHARGE and tonumber(string.match(all[i + 1], '^%d+')) > NOW then
        table.insert(reply, person)
        table.insert(reply, licence)
        table.insert(reply, all[i])
        table.insert(reply, all[i + 1])
      end
    end
  end
end
return reply
