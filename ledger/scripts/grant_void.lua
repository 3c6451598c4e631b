-- grant_void.lua: void a grant: what it can still give is forfeited, and
-- what jobs in flight hold from it stays theirs to spend. Voiding a voided
-- or expired grant changes nothing and answers it as it is.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- KEYS[4] grants hash    KEYS[5] the pool's active grants zset
-- ARGV[1] grant id  ARGV[2] now (unix ms)  ARGV[3] reason  ARGV[4] pool
-- -> {"OK", grant JSON}
--    {"GRANT_NOT_FOUND"}
local id, now_s, reason = ARGV[1], ARGV[2], ARGV[3]
local g = grant_get(KEYS[4], id)
if not g or g.pool ~= ARGV[4] then return {'GRANT_NOT_FOUND'} end
if g.status ~= 'active' then return {'OK', cjson.encode(g)} end
local v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'grants_available')
local alloc_avail, ga = num(v[1]) - num(v[2]) - num(v[3]), num(v[4])
local status = 'voided'
if g.expires_at > 0 and g.expires_at <= tonumber(now_s) then status = 'expired' end
local _
_, ga = end_grant(KEYS[1], KEYS[3], KEYS[4], KEYS[5], g, status, now_s, alloc_avail, ga, reason)
redis.call('HSET', KEYS[2], 'grants_available', string.format('%d', ga), 'grants_next_expiry',
  string.format('%d', next_expiry(active_grants(KEYS[4], KEYS[5]))))
return {'OK', cjson.encode(g)}
