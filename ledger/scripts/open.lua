-- open.lua: open a pool of an account with its first period's grant. Opening
-- a pool that exists changes nothing and returns it as it is.
-- KEYS[1] account hash   KEYS[2] pools set   KEYS[3] pool hash   KEYS[4] journal
-- ARGV[1] pool  ARGV[2] grant  ARGV[3] overage enabled 0|1  ARGV[4] overage limit
-- ARGV[5] overage price (cents)  ARGV[6] period start (unix ms)
-- ARGV[7] period end (unix ms)  ARGV[8] now (unix ms)  ARGV[9] schedule (the
-- plan's cron spec of period boundaries, or "")
-- -> {"OK", created 0|1, field, value, ...}   the pool hash
local pool, grant, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[8])
if redis.call('EXISTS', KEYS[3]) == 1 then return reply(KEYS[3], 0) end
redis.call('HSETNX', KEYS[1], 'created_at', now)
redis.call('SADD', KEYS[2], pool)
redis.call('HSET', KEYS[3], 'grant', grant, 'overage_enabled', ARGV[3], 'overage_limit', ARGV[4],
  'overage_price_cents', ARGV[5], 'period_start', ARGV[6], 'period_end', ARGV[7])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[3], 'schedule', ARGV[9]) end
local p = read_pool(KEYS[3])
change(KEYS[1], KEYS[4], now, 'grant', pool, '', grant, p, {allocated = grant},
  {'period_start', ARGV[6], 'period_end', ARGV[7]})
save_counts(KEYS[3], p)
return reply(KEYS[3], 1)
