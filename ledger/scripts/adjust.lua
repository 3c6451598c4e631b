-- adjust.lua: change a pool's allocation, once per key: a top-up adds, an
-- adjustment adds or takes away. An adjustment may not take more than is
-- available. A key applied before answers the pool as it is now and changes
-- nothing, so a retry after a lost reply moves nothing twice; a key applied
-- before to a different change is refused.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal
-- KEYS[4] the key's marker
-- ARGV[1] topup|adjust  ARGV[2] amount (adjust: nonzero, may be negative)
-- ARGV[3] now (unix ms)  ARGV[4] reason  ARGV[5] pool  ARGV[6] key
-- ARGV[7] how long the marker is kept (ms)
-- -> {"OK", applied 1|0, field, value, ...}   the pool hash
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"} | {"INSUFFICIENT", required, available}
--    {"KEY_CONFLICT"}
--    {"ROLL", period_end, schedule}   the pool's period has ended: roll it, run again
-- A change goes to the period that holds now: an allocation changed in an
-- ended period would be forfeited at once by the refresh.
local typ, amount, now, reason, pool = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local change_id = typ .. ' ' .. pool .. ' ' .. ARGV[2]
local done = redis.call('GET', KEYS[4])
if done then
  if done ~= change_id then return {'KEY_CONFLICT'} end
  return reply(KEYS[2], 0)
end
local p = read_pool(KEYS[2])
if not p then return missing(KEYS[1]) end
local roll = due_roll(string.format('%d', p.period_end), p.schedule, ARGV[3])
if roll then return roll end
-- an adjustment takes from the allocation, never from grants
local alloc_avail = p.allocated - p.used - p.reserved
if amount < 0 and alloc_avail + amount < 0 then
  return {'INSUFFICIENT', -amount, math.max(alloc_avail, 0)}
end
local extra = {'key', ARGV[6]}
if reason ~= '' then extra = {'key', ARGV[6], 'reason', reason} end
change(KEYS[1], KEYS[3], now, typ, pool, '', amount, p, {allocated = amount}, extra)
save_counts(KEYS[2], p)
redis.call('SET', KEYS[4], change_id, 'PX', ARGV[7])
return reply(KEYS[2], 1)
