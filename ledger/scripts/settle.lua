-- settle.lua: post one job's true cost against its reservation, exactly once.
-- The prepaid part is spent first; the part beyond it becomes overage debt and
-- opens a hold; the rest is released. A settled reservation is returned
-- unchanged; a voided or refunded one is refused. The pool's period_start is
-- kept with the settlement (posted_period), so that a refund knows whether
-- the credits it gives back were posted in the current period.
-- KEYS[1] account hash   KEYS[2] pool hash     KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal       KEYS[6] dedup set
-- KEYS[7] hold hash      KEYS[8] holds zset     KEYS[9] staged records set
-- KEYS[10] the job's charged records set (dedup: what a refund gives back)
-- ARGV[1] cost  ARGV[2] now (unix ms)  ARGV[3] hold id  ARGV[4] pool
-- ARGV[5] account  ARGV[6] job  ARGV[7] how long the settled reservation is
-- kept (ms)  ARGV[8] 1 when the charged records are those of KEYS[9], else 0
-- ARGV[9..] the charged records' ids, one per credit of cost (dedup reservations,
--            when not staged; only those the pool has not charged before are
--            posted, so cost may exceed the reservation as long as those do not)
-- -> {"OK", {field, value, ...}, {field, value, ...}}   the reservation hash as
--                                  it was, and the fields this call wrote over it
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"VOIDED"} | {"REFUNDED"}
--    {"COST", reserved}
--    {"IDS", got, want}
--
-- Written for speed: it runs once per job. Values go to redis.call as strings
-- (ARGV as given, computed integers through string.format('%d')), because
-- redis.call formats a Lua number with snprintf("%.17g"); the hash read is
-- sent back as it is rather than rebuilt; only the pool fields this call needs
-- are read.
local cost_s, now_s, hold_id, job = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
local cost = tonumber(cost_s)
local FIRST_ID = 9
local staged = ARGV[8] == '1'

local r = redis.call('HGETALL', KEYS[3])
if #r == 0 then return {'NOT_FOUND'} end
local pool, state, prepaid, overage, dedup
for i = 1, #r, 2 do
  local k = r[i]
  if k == 'pool' then pool = r[i + 1]
  elseif k == 'state' then state = r[i + 1]
  elseif k == 'prepaid' then prepaid = r[i + 1]
  elseif k == 'overage' then overage = r[i + 1]
  elseif k == 'dedup' then dedup = r[i + 1] == '1'
  end
end
if pool ~= ARGV[4] then return {'POOL', pool} end
if state == 'settled' or state == 'voided' or state == 'refunded' then
  -- a stage that came too late (a redelivery's, a concurrent delivery's)
  if staged then redis.call('UNLINK', KEYS[9]) end
  if state == 'settled' then return {'OK', r} end
  if state == 'refunded' then return {'REFUNDED'} end
  return {'VOIDED'}
end
if staged and not dedup then return {'IDS', 0, cost} end
prepaid, overage = tonumber(prepaid) or 0, tonumber(overage) or 0
if dedup then
  local n = #ARGV - FIRST_ID + 1
  if staged then n = redis.call('SCARD', KEYS[9]) end
  if n ~= cost then return {'IDS', n, cost} end
  -- records charged before (by free items, or by another job since the
  -- reservation) are free
  if staged then
    cost = charge_staged(KEYS[6], KEYS[10], KEYS[9], prepaid + overage)
  else
    cost = charge_new(KEYS[6], KEYS[10], FIRST_ID, prepaid + overage)
  end
  if not cost then return {'COST', prepaid + overage} end
  cost_s = string.format('%d', cost)
elseif cost < 0 or cost > prepaid + overage then
  return {'COST', prepaid + overage}
end

local prepaid_posted = math.min(cost, prepaid)
local overage_posted = cost - prepaid_posted
local released = prepaid + overage - cost
local v, period
if overage == 0 then
  v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'period_start')
  period = v[4]
else
  v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'overage_reserved',
    'overage_outstanding', 'overage_price_cents', 'period_start')
  period = v[7]
end
local allocated, used, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0

-- The journal entries, each with the available credits after it. Posting and
-- overage leave available as it was; releasing prepaid credits adds to it.
local release_prepaid, release_overage = prepaid - prepaid_posted, overage - overage_posted
local avail_s = string.format('%d', allocated - used - reserved)
local pp_s, op_s, released_s = cost_s, '0', '0'
if prepaid_posted ~= cost then pp_s = string.format('%d', prepaid_posted) end
if overage_posted > 0 then op_s = string.format('%d', overage_posted) end
if released > 0 then released_s = string.format('%d', released) end
if prepaid_posted > 0 then
  journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', pp_s,
    'du', pp_s, 'dr', '-' .. pp_s, 'avail', avail_s, 'job', job)
end
local changes = {'state', 'settled', 'total_cost', cost_s, 'released', released_s,
  'prepaid_posted', pp_s, 'overage_posted', op_s, 'ended_at', now_s, 'posted_period', period or '0'}
if overage_posted > 0 then
  journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'overage', 'pool', pool, 'amount', op_s,
    'doo', op_s, 'dor', '-' .. op_s, 'avail', avail_s, 'job', job, 'hold', hold_id)
  open_hold(KEYS[7], KEYS[8], hold_id, ARGV[5], job, pool, overage_posted,
    tonumber(v[6]) or 0, now_s)
  changes[#changes + 1] = 'hold'
  changes[#changes + 1] = hold_id
end
if released > 0 then
  local after_s = avail_s
  if release_prepaid > 0 then
    after_s = string.format('%d', allocated - used - reserved + release_prepaid)
  end
  if release_overage == 0 then
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'release', 'pool', pool, 'amount', released_s,
      'dr', string.format('%d', -release_prepaid), 'avail', after_s, 'job', job)
  else
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'release', 'pool', pool, 'amount', released_s,
      'dr', string.format('%d', -release_prepaid), 'dor', string.format('%d', -release_overage),
      'avail', after_s, 'job', job)
  end
end

-- The pool: used grows by what was posted from prepaid, overage_outstanding by
-- the overage posted, and the whole reservation leaves reserved and
-- overage_reserved. Only the counts that change are written.
if overage == 0 and prepaid_posted > 0 then
  -- the usual settle
  redis.call('HSET', KEYS[2], 'used', string.format('%d', used + prepaid_posted),
    'reserved', string.format('%d', reserved - prepaid))
else
  local w = {}
  if prepaid_posted > 0 then
    w[#w + 1] = 'used'
    w[#w + 1] = string.format('%d', used + prepaid_posted)
  end
  if prepaid > 0 then
    w[#w + 1] = 'reserved'
    w[#w + 1] = string.format('%d', reserved - prepaid)
  end
  if overage > 0 then
    w[#w + 1] = 'overage_reserved'
    w[#w + 1] = string.format('%d', (tonumber(v[4]) or 0) - overage)
  end
  if overage_posted > 0 then
    w[#w + 1] = 'overage_outstanding'
    w[#w + 1] = string.format('%d', (tonumber(v[5]) or 0) + overage_posted)
  end
  if #w > 0 then redis.call('HSET', KEYS[2], unpack(w)) end
end
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], unpack(changes))
if staged then redis.call('UNLINK', KEYS[9]) end
redis.call('PEXPIRE', KEYS[3], ARGV[7])
if dedup and cost > 0 then redis.call('PEXPIRE', KEYS[10], ARGV[7]) end
return {'OK', r, changes}
