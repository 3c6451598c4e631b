-- common.lua: helpers that the ledger scripts are built on. The Go side puts
-- them in front of each script, so each still runs as one atomic EVALSHA.
-- Lua runs a script's whole text on every call, so a script gets only the
-- helpers it names (and those they name): keep one helper, with its comment,
-- per paragraph, paragraphs apart by a blank line (redis.go, withHelpers).
--
-- A pool is a hash with the counts allocated, used, reserved,
-- overage_reserved and overage_outstanding, its config grant,
-- overage_enabled (0|1), overage_limit and overage_price_cents, and its
-- period period_start and period_end (unix ms).

local POOL_FIELDS = {'allocated', 'used', 'reserved', 'overage_reserved', 'overage_outstanding',
  'grant', 'overage_enabled', 'overage_limit', 'overage_price_cents', 'period_start', 'period_end'}

local COUNT_FIELDS = {'allocated', 'used', 'reserved', 'overage_reserved', 'overage_outstanding'}

-- the journal's names for the deltas of COUNT_FIELDS
local DELTA_FIELDS = {'da', 'du', 'dr', 'dor', 'doo'}

local function num(v)
  return tonumber(v) or 0
end

-- read_pool returns the pool hash at key as a table of numbers, or nil when
-- the pool does not exist (every pool has a grant). Written out field by
-- field: scripts run on every request, and Lua loops cost here.
local function read_pool(key)
  local v = redis.call('HMGET', key, unpack(POOL_FIELDS))
  if not v[6] then return nil end
  return {dirty = {}, allocated = num(v[1]), used = num(v[2]), reserved = num(v[3]),
    overage_reserved = num(v[4]), overage_outstanding = num(v[5]), grant = num(v[6]),
    overage_enabled = num(v[7]), overage_limit = num(v[8]), overage_price_cents = num(v[9]),
    period_start = num(v[10]), period_end = num(v[11])}
end

local function available(p)
  return p.allocated - p.used - p.reserved
end

local function headroom(p)
  if p.overage_enabled ~= 1 then return 0 end
  local h = p.overage_limit - p.overage_outstanding - p.overage_reserved
  if h < 0 then return 0 end
  return h
end

-- save_counts writes back the counts of p that change() changed.
local function save_counts(key, p)
  local f = {}
  for c in pairs(p.dirty) do
    f[#f + 1] = c
    f[#f + 1] = p[c]
  end
  if #f > 0 then redis.call('HSET', key, unpack(f)) end
  p.dirty = {}
end

-- change applies the deltas d (a table keyed by COUNT_FIELDS) to the pool
-- table p and appends one journal entry for it: seq, at, type, pool, amount,
-- available after, job when not empty, the nonzero deltas, and extra (a flat
-- list of more field, value pairs). The caller saves p afterwards.
local function change(akey, jkey, now, typ, pool, job, amount, p, d, extra)
  local f = {'seq', redis.call('HINCRBY', akey, 'seq', 1), 'at', now, 'type', typ, 'pool', pool,
    'amount', amount}
  for i = 1, 5 do
    local c = COUNT_FIELDS[i]
    local v = d[c]
    if v and v ~= 0 then
      p[c] = p[c] + v
      p.dirty[c] = true
      f[#f + 1] = DELTA_FIELDS[i]
      f[#f + 1] = v
    end
  end
  f[#f + 1] = 'avail'
  f[#f + 1] = available(p)
  if job ~= '' then
    f[#f + 1] = 'job'
    f[#f + 1] = job
  end
  if extra then
    for i = 1, #extra do f[#f + 1] = extra[i] end
  end
  redis.call('XADD', jkey, '*', unpack(f))
end

-- journal appends one entry to the account's journal: its seq, then the
-- field, value pairs given. The lean form of change for the hot scripts: the
-- caller applies the deltas and passes every value as a string, since
-- redis.call formats a Lua number with snprintf("%.17g"), which costs more
-- than string.format('%d', n).
local function journal(akey, jkey, ...)
  local seq = redis.call('HINCRBY', akey, 'seq', '1')
  redis.call('XADD', jkey, '*', 'seq', string.format('%d', seq), ...)
end

-- open_hold writes an unpaid hold for overage credits of one job.
local function open_hold(hkey, holdskey, hold_id, account, job, pool, credits, price, now)
  redis.call('HSET', hkey, 'id', hold_id, 'account', account, 'job', job, 'pool', pool,
    'credits', credits, 'due', credits * price, 'status', 'unpaid', 'created_at', now)
  redis.call('ZADD', holdskey, now, hold_id)
end

-- missing answers why a pool hash does not exist.
local function missing(akey)
  if redis.call('EXISTS', akey) == 0 then return {'UNKNOWN_ACCOUNT'} end
  return {'UNKNOWN_POOL'}
end

-- reply answers OK with every field of the hash at key, after any head values.
local function reply(key, ...)
  local t = {'OK', ...}
  for _, v in ipairs(redis.call('HGETALL', key)) do t[#t + 1] = v end
  return t
end

-- reply_fields answers OK with the flat field, value list of a hash that the
-- script has just written, sparing a read of it.
local function reply_fields(list)
  local t = {'OK'}
  for i = 1, #list do t[i + 1] = list[i] end
  return t
end

-- hash_table turns a flat HGETALL reply into a table.
local function hash_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- table_fields turns a table into a flat field, value list.
local function table_fields(t)
  local list = {}
  for k, v in pairs(t) do
    list[#list + 1] = k
    list[#list + 1] = v
  end
  return list
end

-- charge_ids records the ids new, which the dedup set does not hold, as
-- charged, in the dedup set dkey and in the job's set jkey (what a refund
-- gives back), and returns how many they were; when more than limit, it
-- records nothing and returns nil.
local function charge_ids(dkey, jkey, new, limit)
  if #new > limit then return nil end
  for i = 1, #new, 1000 do
    local last = math.min(i + 999, #new)
    redis.call('SADD', dkey, unpack(new, i, last))
    redis.call('SADD', jkey, unpack(new, i, last))
  end
  return #new
end

-- charge_new records as charged the record ids ARGV[from..] that the dedup
-- set does not hold yet, and returns how many they were; the others are free.
-- When more than limit would be new it records nothing and returns nil.
local function charge_new(dkey, jkey, from, limit)
  local new, seen = {}, {}
  for i = from, #ARGV, 1000 do
    local last = math.min(i + 999, #ARGV)
    local member = redis.call('SMISMEMBER', dkey, unpack(ARGV, i, last))
    for k = i, last do
      local id = ARGV[k]
      if id ~= '' and not seen[id] then
        seen[id] = true
        if member[k - i + 1] == 0 then new[#new + 1] = id end
      end
    end
  end
  return charge_ids(dkey, jkey, new, limit)
end

-- charge_staged records as charged the staged ids (set skey) that the dedup
-- set does not hold yet, and returns how many they were; the others are free.
-- When more than limit would be new it records nothing and returns nil. SDIFF
-- checks each staged id against the dedup set, however big that set is.
local function charge_staged(dkey, jkey, skey, limit)
  local diff, new = redis.call('SDIFF', skey, dkey), {}
  for i = 1, #diff do
    if diff[i] ~= '' then new[#new + 1] = diff[i] end
  end
  return charge_ids(dkey, jkey, new, limit)
end
