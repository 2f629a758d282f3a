-- How an operation runs: its context is set up, its body runs, and its reply goes back; an
-- operation that may cull (its body calls cull()) sends it with the expired holders the engine
-- is to cull next: {reply, {person...}} (none unless this call did call cull()).

local NONE = {}

-- keyed: the operation's table of keys by name (see begin() in context.lua).
local function run(names, culls, keyed, keys, args, body)
  local refused = begin(names, keyed, keys, args)
  if refused then return refused end
  local reply = body()
  if type(reply) == 'table' and reply.err then return reply end
  if culls then return {reply, report and expired_people() or NONE} end
  return reply
end
