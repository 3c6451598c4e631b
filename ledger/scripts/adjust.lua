-- adjust.lua: change a pool's allocation: a top-up adds, an adjustment adds or
-- takes away. An adjustment may not take more than is available.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- ARGV[1] topup|adjust  ARGV[2] amount (adjust: nonzero, may be negative)
-- ARGV[3] now (unix ms)  ARGV[4] reason  ARGV[5] pool
-- -> {"OK", field, value, ...}   the pool hash
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"} | {"INSUFFICIENT", required, available}
local typ, amount, now, reason, pool = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local p = read_pool(KEYS[2])
if not p then return missing(KEYS[1]) end
if amount < 0 and available(p) + amount < 0 then
  return {'INSUFFICIENT', -amount, math.max(available(p), 0)}
end
local extra = nil
if reason ~= '' then extra = {'reason', reason} end
change(KEYS[1], KEYS[3], now, typ, pool, '', amount, p, {allocated = amount}, extra)
save_counts(KEYS[2], p)
return reply(KEYS[2])
