-- reserve.lua: hold credits for one job under a shortfall policy, or, for a
-- plan that charges at acceptance, post them at once. Idempotent by job: when
-- the reservation exists it is returned unchanged.
-- KEYS[1] account hash   KEYS[2] pool hash     KEYS[3] reservation hash
-- KEYS[4] pending zset   KEYS[5] journal       KEYS[6] dedup set
-- KEYS[7] hold hash      KEYS[8] holds zset
-- KEYS[9] the job's charged records set   KEYS[10] charges zset (a charge
--         posted at acceptance goes there until the reaper sees its job)
-- KEYS[11] grants hash   KEYS[12] the pool's active grants zset
-- KEYS[13] outbox stream: hold.opened when a charge at acceptance opens a
--          hold; pool.low when available falls below a tenth of the
--          period's grant, once per period (the pool keeps low_sent)
-- ARGV[1] account  ARGV[2] pool  ARGV[3] job  ARGV[4] requested
-- ARGV[5] policy reject|partial|overage  ARGV[6] dedup 0|1
-- ARGV[7] charge at acceptance 0|1  ARGV[8] now (unix ms)  ARGV[9] hold id
-- ARGV[10] items 0|1  ARGV[11] how long a reservation posted at acceptance is
-- kept (ms)  ARGV[12] condition 0|1: with 1, KEYS[14]'s field ARGV[13] must be
-- ARGV[14] for anything to be held (a reservation made before is answered
-- whatever it is)  ARGV[15..] the items' record ids, "" where unknown
-- -> {"OK", field, value, ...}          the reservation hash
--    {"INSUFFICIENT", required, available}
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"} | {"OVERAGE_DISABLED"}
--    {"CONFLICT"}                        the job id is reserved with other terms
--    {"CONDITION"}                       the condition does not hold: nothing changed
--    {"ROLL", period_end, schedule}      the pool's period has ended: roll it, run again
--
-- The prepaid part comes from the period allocation first, then from the
-- active grants in spending order; the reservation keeps the grants' parts
-- (grants: "id:n,id:n") and the period it reserved in (period).
--
-- Written for speed: it runs on every submit. Values go to redis.call as
-- strings (ARGV as given, computed integers through string.format('%d')),
-- because redis.call formats a Lua number with snprintf("%.17g"); only the
-- pool fields this call needs are read.
local account, pool, job, requested_s, policy = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local dedup, at_acceptance, now_s, hold_id = ARGV[6] == '1', ARGV[7] == '1', ARGV[8], ARGV[9]
local has_items = ARGV[10] == '1'
local requested = tonumber(requested_s)
local FIRST_ITEM = 15

if redis.call('EXISTS', KEYS[3]) == 1 then
  local old = redis.call('HMGET', KEYS[3], 'pool', 'requested')
  if old[1] ~= pool or tonumber(old[2]) ~= requested then return {'CONFLICT'} end
  return reply(KEYS[3])
end
if ARGV[12] == '1' and redis.call('HGET', KEYS[14], ARGV[13]) ~= ARGV[14] then return {'CONDITION'} end
local v = redis.call('HMGET', KEYS[2], 'allocated', 'used', 'reserved', 'grant', 'overage_enabled',
  'overage_limit', 'overage_outstanding', 'overage_reserved', 'overage_price_cents', 'period_start',
  'period_end', 'schedule', 'grants_available', 'grants_next_expiry')
local period = v[10]
if not v[4] then return missing(KEYS[1]) end -- every pool has a grant
local roll = due_roll(v[11], v[12], now_s)
if roll then return roll end
local allocated, used, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
local room = 0
if policy == 'overage' then
  if tonumber(v[5]) ~= 1 then return {'OVERAGE_DISABLED'} end
  room = (tonumber(v[6]) or 0) - (tonumber(v[7]) or 0) - (tonumber(v[8]) or 0)
  if room < 0 then room = 0 end
end
-- The grants: what they can give, their expiries applied first.
local ga, grants = tonumber(v[13]) or 0, nil
local nx = tonumber(v[14]) or 0
if nx > 0 and nx <= tonumber(now_s) then
  grants, ga = expire_grants(KEYS[1], KEYS[2], KEYS[5], KEYS[11], KEYS[12], now_s,
    allocated - used - reserved, ga)
end

-- charged answers, once per id, whether the pool charged it before.
local charged
if has_items and dedup then
  local known = {}
  charged = function(id)
    local c = known[id]
    if c == nil then
      c = redis.call('SISMEMBER', KEYS[6], id) == 1
      known[id] = c
    end
    return c
  end
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

local alloc_avail = allocated - used - reserved
if alloc_avail < 0 then alloc_avail = 0 end
local avail = alloc_avail + ga
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

-- The sources of the prepaid part: the period allocation first, then the
-- grants in spending order.
local from_alloc = math.min(prepaid, alloc_avail)
local takes, grants_list = {}, ''
if prepaid > from_alloc then
  grants = grants or active_grants(KEYS[11], KEYS[12])
  local left = prepaid - from_alloc
  local parts = {}
  for _, g in ipairs(grants) do
    if left == 0 then break end
    local n = math.min(left, g.remaining - g.held)
    if n > 0 then
      takes[#takes + 1] = {g, n}
      parts[#parts + 1] = g.id .. ':' .. string.format('%d', n)
      left = left - n
    end
  end
  grants_list = table.concat(parts, ',')
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

-- The numbers as strings; on the usual path each is the requested amount.
local prepaid_s, overage_s, processed_s = requested_s, '0', requested_s
if prepaid ~= requested then prepaid_s = string.format('%d', prepaid) end
if overage ~= 0 then overage_s = string.format('%d', overage) end
if processed ~= requested then processed_s = string.format('%d', processed) end

-- res is the reply, and from res[2] on the fields of the reservation hash.
-- Fields that are zero or empty are left out; the account and job are in the key.
local res = {'OK', 'pool', pool, 'requested', requested_s, 'processed', processed_s,
  'prepaid', prepaid_s, 'created_at', now_s}
if need ~= requested then
  res[#res + 1] = 'skipped'
  res[#res + 1] = string.format('%d', requested - need)
end
if overage ~= 0 then
  res[#res + 1] = 'overage'
  res[#res + 1] = overage_s
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
if grants_list ~= '' then
  res[#res + 1] = 'grants'
  res[#res + 1] = grants_list
end
res[#res + 1] = 'period'
res[#res + 1] = period or '0'

-- The journal entries and the pool: one entry per source, each with the
-- available credits after it; only the counts that change are written.
local from_alloc_s = string.format('%d', from_alloc)
local function after()
  return string.format('%d', allocated - used - reserved + ga)
end
-- take_grants moves each grant's part: held (reserved) or posted.
local function take_grants(typ)
  for _, t in ipairs(takes) do
    local g, n = t[1], t[2]
    local n_s = string.format('%d', n)
    ga = ga - n
    if typ == 'post' then
      g.remaining = g.remaining - n
      journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', n_s,
        'dga', '-' .. n_s, 'dgr', '-' .. n_s, 'avail', after(), 'job', job, 'grant', g.id)
    else
      g.held = g.held + n
      journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'reserve', 'pool', pool, 'amount', n_s,
        'dga', '-' .. n_s, 'dgh', n_s, 'avail', after(), 'job', job, 'grant', g.id)
    end
    grant_put(KEYS[11], g)
  end
  if #takes > 0 then redis.call('HSET', KEYS[2], 'grants_available', string.format('%d', ga)) end
end
if at_acceptance then
  if from_alloc > 0 then
    used = used + from_alloc
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'post', 'pool', pool, 'amount', from_alloc_s,
      'du', from_alloc_s, 'avail', after(), 'job', job)
    redis.call('HSET', KEYS[2], 'used', string.format('%d', used))
  end
  take_grants('post')
  if overage > 0 then
    journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'overage', 'pool', pool, 'amount', overage_s,
      'doo', overage_s, 'avail', after(), 'job', job, 'hold', hold_id)
    redis.call('HSET', KEYS[2], 'overage_outstanding',
      string.format('%d', (tonumber(v[7]) or 0) + overage))
    open_hold(KEYS[7], KEYS[8], hold_id, account, job, pool, overage, tonumber(v[9]) or 0, now_s)
    emit_event(KEYS[13], 'hold.opened', now_s, hold_id)
    res[#res + 1] = 'hold'
    res[#res + 1] = hold_id
  end
  if dedup and has_items then
    -- the charge is posted now, so its record ids are charged now, and
    -- kept with the job for a refund
    local ids, i, any = {}, FIRST_ITEM, false
    for c in string.gmatch(kept, '.') do
      if c == '1' and ARGV[i] ~= '' and not charged(ARGV[i]) then ids[#ids + 1] = ARGV[i] end
      if #ids == 1000 then
        redis.call('SADD', KEYS[6], unpack(ids))
        redis.call('SADD', KEYS[9], unpack(ids))
        ids, any = {}, true
      end
      i = i + 1
    end
    if #ids > 0 then
      redis.call('SADD', KEYS[6], unpack(ids))
      redis.call('SADD', KEYS[9], unpack(ids))
      any = true
    end
    if any then redis.call('PEXPIRE', KEYS[9], ARGV[11]) end
  end
  -- the reaper refunds it, should its job never be recorded
  if prepaid + overage > 0 then redis.call('ZADD', KEYS[10], now_s, job) end
  local total_s = processed_s
  if prepaid + overage ~= processed then total_s = string.format('%d', prepaid + overage) end
  for _, x in ipairs({'state', 'settled', 'total_cost', total_s, 'released', '0',
    'prepaid_posted', prepaid_s, 'overage_posted', overage_s, 'ended_at', now_s,
    'posted_period', period or '0'}) do
    res[#res + 1] = x
  end
else
  if from_alloc + overage > 0 then
    reserved = reserved + from_alloc
    local amount_s = string.format('%d', from_alloc + overage)
    if overage == 0 then
      journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'reserve', 'pool', pool, 'amount', amount_s,
        'dr', from_alloc_s, 'avail', after(), 'job', job)
      redis.call('HSET', KEYS[2], 'reserved', string.format('%d', reserved))
    else
      journal(KEYS[1], KEYS[5], 'at', now_s, 'type', 'reserve', 'pool', pool, 'amount', amount_s,
        'dr', from_alloc_s, 'dor', overage_s, 'avail', after(), 'job', job)
      redis.call('HSET', KEYS[2], 'reserved', string.format('%d', reserved), 'overage_reserved',
        string.format('%d', (tonumber(v[8]) or 0) + overage))
    end
  end
  take_grants('reserve')
  redis.call('ZADD', KEYS[4], now_s, job)
  res[#res + 1] = 'state'
  res[#res + 1] = 'reserved'
end
res[#res + 1] = 'remaining'
res[#res + 1] = after()
-- pool.low: available below a tenth of the grant (rounded up), once a period
local threshold = math.ceil((tonumber(v[4]) or 0) / 10)
if tonumber(res[#res]) < threshold and redis.call('HGET', KEYS[2], 'low_sent') ~= (period or '') then
  redis.call('HSET', KEYS[2], 'low_sent', period or '')
  emit_event(KEYS[13], 'pool.low', now_s, pool, 'available', res[#res],
    'threshold', string.format('%d', threshold))
end
redis.call('HSET', KEYS[3], unpack(res, 2))
if at_acceptance then redis.call('PEXPIRE', KEYS[3], ARGV[11]) end
return res
