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
  'grant', 'overage_enabled', 'overage_limit', 'overage_price_cents', 'period_start', 'period_end',
  'carried', 'grants_available', 'schedule'}

local COUNT_FIELDS = {'allocated', 'used', 'reserved', 'overage_reserved', 'overage_outstanding',
  'carried', 'grants_available'}

-- the journal's names for the deltas of COUNT_FIELDS
local DELTA_FIELDS = {'da', 'du', 'dr', 'dor', 'doo', 'dc', 'dga'}

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
    period_start = num(v[10]), period_end = num(v[11]), carried = num(v[12]),
    grants_available = num(v[13]), schedule = v[14]}
end

-- available is what a new reservation may take: the period allocation's
-- part and what the active grants can give.
local function available(p)
  return p.allocated - p.used - p.reserved + p.grants_available
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
  for i = 1, #COUNT_FIELDS do
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

-- emit_event appends one event to the account's outbox stream, which the
-- webhook relay moves into deliveries: its type, when (unix ms), what it is
-- about (a job, hold or pool name), then any further field-value pairs.
-- The caller writes it in the same script as the change it tells of.
local function emit_event(okey, etype, now, ref, ...)
  redis.call('XADD', okey, '*', 'type', etype, 'at', now, 'ref', ref, ...)
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

-- Grants. An account's grants are one hash, grant id to a JSON object: id,
-- pool, amount, remaining (amount less what was posted from it), held (what
-- jobs in flight hold from it), expires_at (unix ms, 0: never), priority,
-- reason, created_at, status (active|expired|voided) and ended_at. A pool's
-- active grants are a sorted set of their ids. The pool hash keeps
-- grants_available (the active grants' remaining less held) and
-- grants_next_expiry (the earliest expires_at among them, 0: none).
local function grant_get(gkey, id)
  local s = redis.call('HGET', gkey, id)
  if not s then return nil end
  return cjson.decode(s)
end

-- grant_put writes a grant back.
local function grant_put(gkey, g)
  redis.call('HSET', gkey, g.id, cjson.encode(g))
end

-- grant_before orders spending: lower priority first, then earliest expiry
-- (never last), then oldest, then by id.
local function grant_before(a, b)
  if a.priority ~= b.priority then return a.priority < b.priority end
  if a.expires_at ~= b.expires_at then
    if a.expires_at == 0 then return false end
    if b.expires_at == 0 then return true end
    return a.expires_at < b.expires_at
  end
  if a.created_at ~= b.created_at then return a.created_at < b.created_at end
  return a.id < b.id
end

-- active_grants returns the pool's active grants (zset zkey) in spending order.
local function active_grants(gkey, zkey)
  local ids = redis.call('ZRANGE', zkey, 0, -1)
  if #ids == 0 then return {} end
  local raw = redis.call('HMGET', gkey, unpack(ids))
  local gs = {}
  for i = 1, #ids do
    if raw[i] then gs[#gs + 1] = cjson.decode(raw[i]) end
  end
  table.sort(gs, grant_before)
  return gs
end

-- next_expiry returns the earliest expiry among grants gs, 0 for none.
local function next_expiry(gs)
  local n = 0
  for _, g in ipairs(gs) do
    if g.status == 'active' and g.expires_at > 0 and (n == 0 or g.expires_at < n) then n = g.expires_at end
  end
  return n
end

-- end_grant forfeits what grant g can still give (its remaining less held),
-- marks it status (expired|voided) and journals it; jobs keep what they
-- hold from it. It returns the credits forfeited. The caller passes the
-- pool's available before (alloc_avail, the allocation's part, and the
-- grants' part ga), and gets ga after.
local function end_grant(akey, jkey, gkey, zkey, g, status, now_s, alloc_avail, ga, reason)
  local forfeit = g.remaining - g.held
  g.remaining, g.status, g.ended_at = g.held, status, tonumber(now_s)
  -- an expired grant ended at its expiry, whenever that is seen
  if status == 'expired' and g.expires_at > 0 then g.ended_at = g.expires_at end
  grant_put(gkey, g)
  redis.call('ZREM', zkey, g.id)
  ga = ga - forfeit
  local f = {'at', now_s, 'type', 'grant_' .. status, 'pool', g.pool, 'amount',
    string.format('%d', forfeit), 'grant', g.id, 'avail', string.format('%d', alloc_avail + ga)}
  if forfeit ~= 0 then
    f[#f + 1] = 'dga'
    f[#f + 1] = string.format('%d', -forfeit)
    f[#f + 1] = 'dgr'
    f[#f + 1] = string.format('%d', -forfeit)
  end
  if reason and reason ~= '' then
    f[#f + 1] = 'reason'
    f[#f + 1] = reason
  end
  journal(akey, jkey, unpack(f))
  return forfeit, ga
end

-- expire_grants ends every active grant of the pool whose expires_at is at
-- or before now, and writes the pool's grants_available and
-- grants_next_expiry. It returns the active grants left, in spending order,
-- and grants_available after.
local function expire_grants(akey, pkey, jkey, gkey, zkey, now_s, alloc_avail, ga)
  local now, left = tonumber(now_s), {}
  for _, g in ipairs(active_grants(gkey, zkey)) do
    if g.expires_at > 0 and g.expires_at <= now then
      local _
      _, ga = end_grant(akey, jkey, gkey, zkey, g, 'expired', now_s, alloc_avail, ga, '')
    else
      left[#left + 1] = g
    end
  end
  redis.call('HSET', pkey, 'grants_available', string.format('%d', ga),
    'grants_next_expiry', string.format('%d', next_expiry(left)))
  return left, ga
end

-- due_roll answers the ROLL reply when the pool's period has ended by now
-- and the pool knows its schedule, so that the caller rolls it into the
-- period that holds now and runs the script again; otherwise nil.
local function due_roll(period_end, schedule, now_s)
  if schedule and schedule ~= '' and tonumber(period_end or '0') <= tonumber(now_s) then
    return {'ROLL', period_end, schedule}
  end
  return nil
end

-- grant_parts parses a reservation's grants field ("id:n,id:n", absent when
-- no grant gave to it) into {id, n} pairs in the order they were taken, and
-- returns them with their sum.
local function grant_parts(list)
  local parts, total = {}, 0
  if list then
    for id, n in string.gmatch(list, '([^:,]+):(%d+)') do
      parts[#parts + 1] = {id, tonumber(n)}
      total = total + tonumber(n)
    end
  end
  return parts, total
end

-- ended_period reports whether a reservation was made in a period that has
-- ended: its period (or, for one made before reservations kept it, its
-- created_at) against the pool's period_start. Its allocation part is then
-- carried, not reserved.
local function ended_period(res_period, created_at, period_start)
  if res_period then return res_period ~= period_start end
  return num(created_at) < num(period_start)
end

-- release_grant gives n credits that a job held of grant g back to it, and
-- journals it: to an active grant they can be spent again; to one that
-- has ended they are forfeited. alloc_avail is the allocation's part of the
-- pool's available, ga the grants' part; it returns ga after. The caller
-- writes g back.
local function release_grant(akey, jkey, g, n, pool, job, now_s, alloc_avail, ga, reason)
  local n_s = string.format('%d', n)
  g.held = g.held - n
  local back = {'dga', n_s} -- spendable again
  if g.status ~= 'active' then
    back, reason = {'dgr', '-' .. n_s}, 'grant ' .. g.status -- forfeited
    g.remaining = g.remaining - n
  else
    ga = ga + n
  end
  local f = {'at', now_s, 'type', 'release', 'pool', pool, 'amount', n_s, 'dgh', '-' .. n_s,
    back[1], back[2], 'avail', string.format('%d', alloc_avail + ga), 'job', job, 'grant', g.id}
  if reason ~= '' then
    f[#f + 1] = 'reason'
    f[#f + 1] = reason
  end
  journal(akey, jkey, unpack(f))
  return ga
end

-- set_changed appends field and its new value to the HSET list w when the
-- value differs from what was read.
local function set_changed(w, field, new, old)
  if new ~= old then
    w[#w + 1] = field
    w[#w + 1] = string.format('%d', new)
  end
end
