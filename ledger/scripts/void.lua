-- void.lua: release everything one job holds. Voiding twice changes nothing
-- more; a settled reservation (or one posted at acceptance) is refused.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal
-- ARGV[1] now (unix ms)  ARGV[2] reason  ARGV[3] pool
-- -> {"OK", field, value, ...}   the reservation hash
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"SETTLED"}
local now, reason = tonumber(ARGV[1]), ARGV[2]
local r = redis.call('HMGET', KEYS[3], 'state', 'prepaid', 'overage', 'pool', 'job')
local state = r[1]
if not state then return {'NOT_FOUND'} end
if r[4] ~= ARGV[3] then return {'POOL', r[4]} end
if state == 'voided' then return reply(KEYS[3]) end
if state == 'settled' then return {'SETTLED'} end
local prepaid, overage, pool, job = tonumber(r[2]), tonumber(r[3]), r[4], r[5]

local p = read_pool(KEYS[2])
if prepaid + overage > 0 then
  local extra = nil
  if reason ~= '' then extra = {'reason', reason} end
  change(KEYS[1], KEYS[5], now, 'release', pool, job, prepaid + overage, p,
    {reserved = -prepaid, overage_reserved = -overage}, extra)
  save_counts(KEYS[2], p)
end
redis.call('ZREM', KEYS[4], job)
redis.call('HSET', KEYS[3], 'state', 'voided', 'released', prepaid + overage, 'ended_at', now)
return reply(KEYS[3])
