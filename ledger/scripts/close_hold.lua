-- close_hold.lua: pay or waive an overage hold. Either clears its debt from
-- the pool's overage_outstanding. Closing a hold the same way twice changes
-- nothing more; paying a waived hold, or waiving a paid one, is refused.
-- The closing writes its event (hold.paid or hold.waived) to the outbox.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] hold hash   KEYS[4] journal
-- KEYS[5] outbox stream
-- ARGV[1] paid|waived  ARGV[2] payment ref (paid) or reason (waived)  ARGV[3] now (unix ms)
-- -> {"OK", field, value, ...}   the hold hash
--    {"NOT_FOUND"} | {"CONFLICT", status}
local status, note, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[3], 'status', 'credits', 'pool', 'job', 'id')
if not h[1] then return {'NOT_FOUND'} end
if h[1] == status then return reply(KEYS[3]) end
if h[1] ~= 'unpaid' then return {'CONFLICT', h[1]} end
local credits, pool, job, id = tonumber(h[2]), h[3], h[4], h[5]

local p = read_pool(KEYS[2])
local field = 'payment_ref'
if status == 'waived' then field = 'waive_reason' end
change(KEYS[1], KEYS[4], now, 'hold_' .. status, pool, job, credits, p,
  {overage_outstanding = -credits}, {'hold', id, 'reason', note})
save_counts(KEYS[2], p)
redis.call('HSET', KEYS[3], 'status', status, 'paid_at', now, field, note)
emit_event(KEYS[5], 'hold.' .. status, ARGV[3], id)
return reply(KEYS[3])
