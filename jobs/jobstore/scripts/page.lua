-- page.lua: the next entries of an account's job index, newest first, from a
-- position, read at one instant. Lua compares strings by the server's locale,
-- not by the index's byte order, so the script returns every id that ties with
-- the last one's score in front, and the caller drops those at or before it.
-- KEYS[1] jobs zset
-- ARGV[1] the last score seen ('+inf' from the start)
-- ARGV[2] the last id seen ('' from the start)   ARGV[3] how many after it
-- -> {id, score, id, score, ...}
local n = tonumber(ARGV[3])
if ARGV[2] ~= '' then
  n = n + redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1])
end
return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, n)
