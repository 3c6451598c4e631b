-- prune.lua: drop from an account's job index the ids whose record has
-- expired, checking each again so that an id created anew stays.
-- KEYS[1] jobs zset   KEYS[2..n] job records
-- ARGV[1..n-1] the ids of KEYS[2..n]
-- -> the number of ids dropped
local dropped = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    dropped = dropped + redis.call('ZREM', KEYS[1], ARGV[i - 1])
  end
end
return dropped
