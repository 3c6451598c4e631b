-- void.lua: release everything one job holds, to the sources it took it
-- from. Voiding twice changes nothing more; a settled reservation (or one
-- posted at acceptance), and a refunded one, are refused. What a reservation
-- of an ended period holds from the allocation (carried), and what it holds
-- from a grant that has ended, is forfeited.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal     KEYS[6] grants hash
-- ARGV[1] now (unix ms)  ARGV[2] reason  ARGV[3] pool  ARGV[4] job
-- ARGV[5] how long the voided reservation is kept (ms)
-- -> {"OK", field, value, ...}   the reservation hash
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"SETTLED"} | {"REFUNDED"}
--    {"ROLL", period_end, schedule}   the pool's period has ended: roll it, run again
local now_s, reason = ARGV[1], ARGV[2]
local flat = redis.call('HGETALL', KEYS[3])
if #flat == 0 then return {'NOT_FOUND'} end
local r = hash_table(flat)
if r.pool ~= ARGV[3] then return {'POOL', r.pool} end
if r.state == 'voided' then return reply_fields(flat) end
if r.state == 'settled' then return {'SETTLED'} end
if r.state == 'refunded' then return {'REFUNDED'} end
local v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'overage_reserved',
  'period_start', 'period_end', 'schedule', 'carried', 'grants_available')
local roll = due_roll(v[6], v[7], now_s)
if roll then return roll end
local prepaid, overage, pool, job = num(r.prepaid), num(r.overage), r.pool, ARGV[4]
local allocated, used, reserved, carried, ga = num(v[1]), num(v[2]), num(v[3]), num(v[8]), num(v[9])
local old = ended_period(r.period, r.created_at, v[5])
local function after()
  return string.format('%d', allocated - used - reserved + ga)
end

local parts, from_grants = grant_parts(r.grants)
local alloc_part = prepaid - from_grants
if alloc_part + overage > 0 then
  local f = {'at', now_s, 'type', 'release', 'pool', pool, 'amount',
    string.format('%d', alloc_part + overage)}
  if alloc_part > 0 then
    if old then
      carried = carried - alloc_part
      f[#f + 1] = 'dc'
    else
      reserved = reserved - alloc_part
      f[#f + 1] = 'dr'
    end
    f[#f + 1] = string.format('%d', -alloc_part)
  end
  if overage > 0 then
    f[#f + 1] = 'dor'
    f[#f + 1] = string.format('%d', -overage)
  end
  f[#f + 1] = 'avail'
  f[#f + 1] = after()
  f[#f + 1] = 'job'
  f[#f + 1] = job
  if reason ~= '' then
    f[#f + 1] = 'reason'
    f[#f + 1] = reason
  end
  journal(KEYS[1], KEYS[5], unpack(f))
end
for _, part in ipairs(parts) do
  local g = grant_get(KEYS[6], part[1])
  ga = release_grant(KEYS[1], KEYS[5], g, part[2], pool, job, now_s, allocated - used - reserved, ga, reason)
  grant_put(KEYS[6], g)
end
local w = {}
set_changed(w, 'reserved', reserved, num(v[3]))
set_changed(w, 'carried', carried, num(v[8]))
set_changed(w, 'grants_available', ga, num(v[9]))
set_changed(w, 'overage_reserved', num(v[4]) - overage, num(v[4]))
if #w > 0 then redis.call('HSET', KEYS[2], unpack(w)) end
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], 'state', 'voided', 'released', prepaid + overage, 'ended_at', now_s)
redis.call('PEXPIRE', KEYS[3], ARGV[5])
r.state, r.released, r.ended_at = 'voided', prepaid + overage, now_s
return reply_fields(table_fields(r))
