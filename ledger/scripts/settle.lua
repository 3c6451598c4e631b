-- settle.lua: post one job's true cost against its reservation, exactly once.
-- The prepaid part is spent first; the part beyond it becomes overage debt and
-- opens a hold; the rest is released. A settled reservation is returned
-- unchanged; a voided one is refused.
-- KEYS[1] account hash   KEYS[2] pool hash     KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal       KEYS[6] dedup set
-- KEYS[7] hold hash      KEYS[8] holds zset
-- ARGV[1] cost  ARGV[2] now (unix ms)  ARGV[3] hold id  ARGV[4] pool
-- ARGV[5] account  ARGV[6] job
-- ARGV[7..] the charged records' ids, one per credit of cost (dedup reservations)
-- -> {"OK", field, value, ...}   the reservation hash
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"VOIDED"} | {"COST", reserved}
--    {"IDS", got, want}
local cost, now, hold_id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local FIRST_ID = 7

local flat = redis.call('HGETALL', KEYS[3])
if #flat == 0 then return {'NOT_FOUND'} end
local r = hash_table(flat)
if r.pool ~= ARGV[4] then return {'POOL', r.pool} end
if r.state == 'settled' then return reply_fields(flat) end
if r.state == 'voided' then return {'VOIDED'} end
local prepaid, overage, dedup = num(r.prepaid), num(r.overage), r.dedup == '1'
local pool, job = r.pool, ARGV[6]
local account = ARGV[5]
if cost < 0 or cost > prepaid + overage then return {'COST', prepaid + overage} end
if dedup then
  local n = #ARGV - FIRST_ID + 1
  if n ~= cost then return {'IDS', n, cost} end
  -- a record charged since the reservation is free now
  cost = add_charged(KEYS[6], FIRST_ID)
end

local p = read_pool(KEYS[2])
local prepaid_posted = math.min(cost, prepaid)
local overage_posted = cost - prepaid_posted
local released = prepaid + overage - cost
if prepaid_posted > 0 then
  change(KEYS[1], KEYS[5], now, 'post', pool, job, prepaid_posted, p,
    {used = prepaid_posted, reserved = -prepaid_posted})
end
local res = {'state', 'settled', 'total_cost', cost, 'released', released,
  'prepaid_posted', prepaid_posted, 'overage_posted', overage_posted, 'ended_at', ARGV[2]}
r.state, r.total_cost, r.released, r.prepaid_posted, r.overage_posted, r.ended_at =
  'settled', cost, released, prepaid_posted, overage_posted, ARGV[2]
if overage_posted > 0 then
  change(KEYS[1], KEYS[5], now, 'overage', pool, job, overage_posted, p,
    {overage_outstanding = overage_posted, overage_reserved = -overage_posted}, {'hold', hold_id})
  open_hold(KEYS[7], KEYS[8], hold_id, account, job, pool, overage_posted, p.overage_price_cents, now)
  res[#res + 1] = 'hold'
  res[#res + 1] = hold_id
  r.hold = hold_id
end
if released > 0 then
  change(KEYS[1], KEYS[5], now, 'release', pool, job, released, p,
    {reserved = -(prepaid - prepaid_posted), overage_reserved = -(overage - overage_posted)})
end
save_counts(KEYS[2], p)
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], unpack(res))
return reply_fields(table_fields(r))
