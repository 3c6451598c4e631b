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
-- KEYS[11] grants hash   KEYS[12] outbox stream (a hold opened: hold.opened)
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
--    {"ROLL", period_end, schedule}   the pool's period has ended: roll it, run again
--
-- The cost is posted from the sources the reservation took it from, in the
-- order it took them: the period allocation, then its grants (grants). What
-- a reservation of an ended period holds from the allocation is carried; what
-- it gives back of it is forfeited, as is what it gives back to a grant that
-- has ended.
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
local pool, state, prepaid, overage, dedup, grants_list, res_period, created
for i = 1, #r, 2 do
  local k = r[i]
  if k == 'pool' then pool = r[i + 1]
  elseif k == 'state' then state = r[i + 1]
  elseif k == 'prepaid' then prepaid = r[i + 1]
  elseif k == 'overage' then overage = r[i + 1]
  elseif k == 'dedup' then dedup = r[i + 1] == '1'
  elseif k == 'grants' then grants_list = r[i + 1]
  elseif k == 'period' then res_period = r[i + 1]
  elseif k == 'created_at' then created = r[i + 1]
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
local v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'overage_reserved',
  'overage_outstanding', 'overage_price_cents', 'period_start', 'period_end', 'schedule', 'carried',
  'grants_available')
local roll = due_roll(v[8], v[9], now_s)
if roll then return roll end
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

local period = v[7]
local allocated, used, reserved = num(v[1]), num(v[2]), num(v[3])
local carried, ga = num(v[10]), num(v[11])
-- Whether the reservation was made in an ended period: its allocation part
-- is carried, not reserved.
local old = ended_period(res_period, created, period)

-- The sources, in the order they were taken.
local parts, from_grants = grant_parts(grants_list)
local alloc_part = prepaid - from_grants
local prepaid_posted = math.min(cost, prepaid)
local overage_posted = cost - prepaid_posted
local released = prepaid + overage - cost
local alloc_posted = math.min(cost, alloc_part)
local alloc_released = alloc_part - alloc_posted
local release_overage = overage - overage_posted

local function after()
  return string.format('%d', allocated - used - reserved + ga)
end
local pp_s, op_s, released_s = cost_s, '0', '0'
if prepaid_posted ~= cost then pp_s = string.format('%d', prepaid_posted) end
if overage_posted > 0 then op_s = string.format('%d', overage_posted) end
if released > 0 then released_s = string.format('%d', released) end

-- Posting: the allocation's part, then each grant's, then the overage.
if alloc_posted > 0 then
  local n_s = string.format('%d', alloc_posted)
  if old then
    carried = carried - alloc_posted
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', n_s,
      'dc', '-' .. n_s, 'avail', after(), 'job', job)
  else
    used, reserved = used + alloc_posted, reserved - alloc_posted
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', n_s,
      'du', n_s, 'dr', '-' .. n_s, 'avail', after(), 'job', job)
  end
end
local left = cost - alloc_posted
local gs = {}
for i, part in ipairs(parts) do
  local g = grant_get(KEYS[11], part[1])
  gs[i] = g
  local pg = math.min(left, part[2])
  left = left - pg
  part[3] = pg
  if pg > 0 then
    local n_s = string.format('%d', pg)
    g.remaining, g.held = g.remaining - pg, g.held - pg
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', n_s,
      'dgr', '-' .. n_s, 'dgh', '-' .. n_s, 'avail', after(), 'job', job, 'grant', g.id)
  end
end
local changes = {'state', 'settled', 'total_cost', cost_s, 'released', released_s,
  'prepaid_posted', pp_s, 'overage_posted', op_s, 'ended_at', now_s, 'posted_period', period or '0'}
if overage_posted > 0 then
  journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'overage', 'pool', pool, 'amount', op_s,
    'doo', op_s, 'dor', '-' .. op_s, 'avail', after(), 'job', job, 'hold', hold_id)
  open_hold(KEYS[7], KEYS[8], hold_id, ARGV[5], job, pool, overage_posted, num(v[6]), now_s)
  emit_event(KEYS[12], 'hold.opened', now_s, hold_id)
  changes[#changes + 1] = 'hold'
  changes[#changes + 1] = hold_id
end

-- Releasing: the allocation's part (forfeited when carried) with the
-- overage's, then each grant's (forfeited when the grant has ended).
if alloc_released + release_overage > 0 then
  local f = {'at', now_s, 'type', 'release', 'pool', pool, 'amount',
    string.format('%d', alloc_released + release_overage)}
  if alloc_released > 0 then
    local n_s = string.format('%d', -alloc_released)
    if old then
      carried = carried - alloc_released
      f[#f + 1] = 'dc'
    else
      reserved = reserved - alloc_released
      f[#f + 1] = 'dr'
    end
    f[#f + 1] = n_s
  end
  if release_overage > 0 then
    f[#f + 1] = 'dor'
    f[#f + 1] = string.format('%d', -release_overage)
  end
  f[#f + 1] = 'avail'
  f[#f + 1] = after()
  f[#f + 1] = 'job'
  f[#f + 1] = job
  journal(KEYS[1], KEYS[5], unpack(f))
end
for i, part in ipairs(parts) do
  local g, rg = gs[i], part[2] - part[3]
  if rg > 0 then
    ga = release_grant(KEYS[1], KEYS[5], g, rg, pool, job, now_s, allocated - used - reserved, ga, '')
  end
  grant_put(KEYS[11], g)
end

-- The pool: only the counts that change are written.
local w = {}
set_changed(w, 'used', used, num(v[2]))
set_changed(w, 'reserved', reserved, num(v[3]))
set_changed(w, 'carried', carried, num(v[10]))
set_changed(w, 'grants_available', ga, num(v[11]))
set_changed(w, 'overage_reserved', num(v[4]) - overage, num(v[4]))
set_changed(w, 'overage_outstanding', num(v[5]) + overage_posted, num(v[5]))
if #w > 0 then redis.call('HSET', KEYS[2], unpack(w)) end
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], unpack(changes))
if staged then redis.call('UNLINK', KEYS[9]) end
redis.call('PEXPIRE', KEYS[3], ARGV[7])
if dedup and cost > 0 then redis.call('PEXPIRE', KEYS[10], ARGV[7]) end
return {'OK', r, changes}
