-- grants_expire.lua: expire the pool's grants whose expiry has come, each
-- with its journal entry. Running it again changes nothing more.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- KEYS[4] grants hash    KEYS[5] the pool's active grants zset
-- ARGV[1] now (unix ms)
-- -> {"OK", grants expired}
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"}
local now_s = ARGV[1]
local v = redis.call('HMGET', KEYS[2], 'grant', 'allocated', 'used', 'reserved', 'grants_available',
  'grants_next_expiry')
if not v[1] then return missing(KEYS[1]) end
if num(v[6]) == 0 or num(v[6]) > tonumber(now_s) then return {'OK', 0} end
local before = redis.call('ZCARD', KEYS[5])
local left = expire_grants(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], now_s,
  num(v[2]) - num(v[3]) - num(v[4]), num(v[5]))
return {'OK', before - #left}
