-- grant_add.lua: add a grant to a pool, once per grant id: adding an id that
-- exists with the same terms answers it as it is now and changes nothing, so
-- a retry after a lost reply adds nothing twice; with other terms, it is
-- refused. Grants whose expiry has come are expired first.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- KEYS[4] grants hash    KEYS[5] the pool's active grants zset
-- ARGV[1] grant id  ARGV[2] pool  ARGV[3] amount  ARGV[4] expires_at (unix ms, 0: never)
-- ARGV[5] priority  ARGV[6] reason  ARGV[7] now (unix ms)
-- -> {"OK", created 0|1, grant JSON}
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"} | {"GRANT_CONFLICT"}
local id, pool, amount_s, expires_s, priority_s, reason, now_s =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local old = grant_get(KEYS[4], id)
if old then
  if old.pool ~= pool or old.amount ~= tonumber(amount_s) or old.expires_at ~= tonumber(expires_s)
    or old.priority ~= tonumber(priority_s) or old.reason ~= reason then
    return {'GRANT_CONFLICT'}
  end
  return {'OK', 0, cjson.encode(old)}
end
local v = redis.call('HMGET', KEYS[2], 'grant', 'allocated', 'used', 'reserved', 'grants_available',
  'grants_next_expiry')
if not v[1] then return missing(KEYS[1]) end
local alloc_avail, ga = num(v[2]) - num(v[3]) - num(v[4]), num(v[5])
local left = nil
if num(v[6]) > 0 and num(v[6]) <= tonumber(now_s) then
  left, ga = expire_grants(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], now_s, alloc_avail, ga)
end

local g = {id = id, pool = pool, amount = tonumber(amount_s), remaining = tonumber(amount_s), held = 0,
  expires_at = tonumber(expires_s), priority = tonumber(priority_s), reason = reason,
  created_at = tonumber(now_s), status = 'active', ended_at = 0}
grant_put(KEYS[4], g)
redis.call('ZADD', KEYS[5], now_s, id)
ga = ga + g.amount
local nx = num(v[6])
if left then nx = next_expiry(left) end
if g.expires_at > 0 and (nx == 0 or g.expires_at < nx) then nx = g.expires_at end
redis.call('HSET', KEYS[2], 'grants_available', string.format('%d', ga), 'grants_next_expiry',
  string.format('%d', nx))
local f = {'at', now_s, 'type', 'grant_added', 'pool', pool, 'amount', amount_s, 'grant', id,
  'dga', amount_s, 'dgr', amount_s, 'avail', string.format('%d', alloc_avail + ga)}
if reason ~= '' then
  f[#f + 1] = 'reason'
  f[#f + 1] = reason
end
journal(KEYS[1], KEYS[3], unpack(f))
return {'OK', 1, cjson.encode(g)}
