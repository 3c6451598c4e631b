-- void.lua: release everything one job holds. Voiding twice changes nothing
-- more; a settled reservation (or one posted at acceptance), and a refunded
-- one, are refused.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal
-- ARGV[1] now (unix ms)  ARGV[2] reason  ARGV[3] pool  ARGV[4] job
-- ARGV[5] how long the voided reservation is kept (ms)
-- -> {"OK", field, value, ...}   the reservation hash
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"SETTLED"} | {"REFUNDED"}
local now, reason = tonumber(ARGV[1]), ARGV[2]
local flat = redis.call('HGETALL', KEYS[3])
if #flat == 0 then return {'NOT_FOUND'} end
local r = hash_table(flat)
if r.pool ~= ARGV[3] then return {'POOL', r.pool} end
if r.state == 'voided' then return reply_fields(flat) end
if r.state == 'settled' then return {'SETTLED'} end
if r.state == 'refunded' then return {'REFUNDED'} end
local prepaid, overage, pool, job = num(r.prepaid), num(r.overage), r.pool, ARGV[4]

local p = read_pool(KEYS[2])
if prepaid + overage > 0 then
  local extra = nil
  if reason ~= '' then extra = {'reason', reason} end
  change(KEYS[1], KEYS[5], now, 'release', pool, job, prepaid + overage, p,
    {reserved = -prepaid, overage_reserved = -overage}, extra)
  save_counts(KEYS[2], p)
end
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], 'state', 'voided', 'released', prepaid + overage, 'ended_at', ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
r.state, r.released, r.ended_at = 'voided', prepaid + overage, ARGV[1]
return reply_fields(table_fields(r))
