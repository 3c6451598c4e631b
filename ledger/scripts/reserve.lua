-- reserve.lua: hold credits for one job under a shortfall policy, or, for a
-- plan that charges at acceptance, post them at once. Idempotent by job: when
-- the reservation exists it is returned unchanged.
-- KEYS[1] account hash   KEYS[2] pool hash     KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal       KEYS[6] dedup set
-- KEYS[7] hold hash      KEYS[8] holds zset
-- ARGV[1] account  ARGV[2] pool  ARGV[3] job  ARGV[4] requested
-- ARGV[5] policy reject|partial|overage  ARGV[6] dedup 0|1
-- ARGV[7] charge at acceptance 0|1  ARGV[8] now (unix ms)  ARGV[9] hold id
-- ARGV[10] items 0|1  ARGV[11..] the items' record ids, "" where unknown
-- -> {"OK", field, value, ...}          the reservation hash
--    {"INSUFFICIENT", required, available}
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"} | {"OVERAGE_DISABLED"}
--    {"CONFLICT"}                        the job id is reserved with other terms
local account, pool, job, requested, policy = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local dedup, at_acceptance, now, hold_id = ARGV[6] == '1', ARGV[7] == '1', tonumber(ARGV[8]), ARGV[9]
local has_items = ARGV[10] == '1'
local FIRST_ITEM = 11

local old = redis.call('HMGET', KEYS[3], 'pool', 'requested')
if old[1] then
  if old[1] ~= pool or tonumber(old[2]) ~= requested then return {'CONFLICT'} end
  return reply(KEYS[3])
end
local p = read_pool(KEYS[2])
if not p then return missing(KEYS[1]) end
if policy == 'overage' and p.overage_enabled ~= 1 then return {'OVERAGE_DISABLED'} end

-- charged answers, once per id, whether the pool charged it before.
local known = {}
local function charged(id)
  local v = known[id]
  if v == nil then
    v = redis.call('SISMEMBER', KEYS[6], id) == 1
    known[id] = v
  end
  return v
end

local need = requested
if has_items and dedup then
  need = 0
  local seen = {}
  for i = FIRST_ITEM, #ARGV do
    local id = ARGV[i]
    if id == '' then
      need = need + 1
    elseif not (charged(id) or seen[id]) then
      seen[id] = true
      need = need + 1
    end
  end
end

local avail, room = available(p), headroom(p)
if avail < 0 then avail = 0 end
local prepaid, overage = 0, 0
if need <= 0 then
  -- nothing to pay for
elseif need <= avail then
  prepaid = need
elseif policy == 'partial' then
  if avail == 0 then return {'INSUFFICIENT', need, 0} end
  prepaid = avail
elseif policy == 'overage' then
  if need - avail > room then return {'INSUFFICIENT', need, avail + room} end
  prepaid, overage = avail, need - avail
else
  return {'INSUFFICIENT', need, avail}
end

-- Which items run: every free one, and the first prepaid + overage of the rest.
local processed, kept = prepaid + overage, ''
if has_items then
  processed = 0
  local capacity, seen, mask = prepaid + overage, {}, {}
  for i = FIRST_ITEM, #ARGV do
    local id, k = ARGV[i], '0'
    if dedup and id ~= '' and (charged(id) or seen[id]) then
      k = '1'
    elseif capacity > 0 then
      capacity = capacity - 1
      if dedup and id ~= '' then seen[id] = true end
      k = '1'
    end
    mask[#mask + 1] = k
    if k == '1' then processed = processed + 1 end
  end
  kept = table.concat(mask)
end

-- Fields that are zero or empty are left out; the account and job are in the key.
local res = {'pool', pool, 'requested', ARGV[4], 'processed', processed, 'prepaid', prepaid,
  'created_at', ARGV[8]}
if need ~= requested then
  res[#res + 1] = 'skipped'
  res[#res + 1] = requested - need
end
if overage ~= 0 then
  res[#res + 1] = 'overage'
  res[#res + 1] = overage
end
if dedup then
  res[#res + 1] = 'dedup'
  res[#res + 1] = '1'
end
if at_acceptance then
  res[#res + 1] = 'accept'
  res[#res + 1] = '1'
end
if kept ~= '' then
  res[#res + 1] = 'kept'
  res[#res + 1] = kept
end

if at_acceptance then
  if prepaid > 0 then
    change(KEYS[1], KEYS[5], now, 'post', pool, job, prepaid, p, {used = prepaid})
  end
  if overage > 0 then
    change(KEYS[1], KEYS[5], now, 'overage', pool, job, overage, p, {overage_outstanding = overage},
      {'hold', hold_id})
    open_hold(KEYS[7], KEYS[8], hold_id, account, job, pool, overage, p.overage_price_cents, now)
    res[#res + 1] = 'hold'
    res[#res + 1] = hold_id
  end
  if dedup and has_items then
    -- the charge is posted now, so its record ids are charged now
    local ids, i = {}, FIRST_ITEM
    for c in string.gmatch(kept, '.') do
      if c == '1' and ARGV[i] ~= '' then ids[#ids + 1] = ARGV[i] end
      if #ids == 1000 then
        redis.call('SADD', KEYS[6], unpack(ids))
        ids = {}
      end
      i = i + 1
    end
    if #ids > 0 then redis.call('SADD', KEYS[6], unpack(ids)) end
  end
  for _, v in ipairs({'state', 'settled', 'total_cost', prepaid + overage, 'released', 0,
    'prepaid_posted', prepaid, 'overage_posted', overage, 'ended_at', now}) do res[#res + 1] = v end
else
  if prepaid + overage > 0 then
    change(KEYS[1], KEYS[5], now, 'reserve', pool, job, prepaid + overage, p,
      {reserved = prepaid, overage_reserved = overage})
  end
  redis.call('ZADD', KEYS[4], ARGV[8], job)
  res[#res + 1] = 'state'
  res[#res + 1] = 'reserved'
end
save_counts(KEYS[2], p)
res[#res + 1] = 'remaining'
res[#res + 1] = available(p)
redis.call('HSET', KEYS[3], unpack(res))
return reply_fields(res)
