-- refresh.lua: start a pool's new period, at most once per period: used resets
-- and allocated becomes the grant, with no rollover. Reservations in flight
-- carry over and settle in the new period; so that available stays >= 0, the
-- allocation is never set below what they hold. Overage debt stays. A period
-- that does not start after the pool's current one changes nothing, so a late
-- or repeated refresh is harmless.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- ARGV[1] pool  ARGV[2] period start (unix ms)  ARGV[3] period end (unix ms)
-- ARGV[4] now (unix ms)
-- -> {"OK", applied 0|1, field, value, ...}   the pool hash
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"}
local pool, start, stop, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local p = read_pool(KEYS[2])
if not p then return missing(KEYS[1]) end
if start <= p.period_start then return reply(KEYS[2], 0) end
local allocated = math.max(p.grant, p.reserved)
change(KEYS[1], KEYS[3], now, 'refresh', pool, '', p.grant, p,
  {allocated = allocated - p.allocated, used = -p.used},
  {'period_start', start, 'period_end', stop})
save_counts(KEYS[2], p)
redis.call('HSET', KEYS[2], 'period_start', start, 'period_end', stop)
return reply(KEYS[2], 1)
