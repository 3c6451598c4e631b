-- checkpoint.lua: write a checkpoint into an account's journal, then trim the
-- journal before the newest checkpoint older than the retention cut. Keyed by
-- run: a second call with the same key changes nothing, and one with another
-- key writes no checkpoint while the journal's last entry is one.
-- A checkpoint takes no seq of its own: it carries the seq of the entry
-- before it, and states what the journal up to there replays to: fields
-- pool:<name> = "allocated used reserved overage_reserved overage_outstanding
-- period_start period_end carried grants_available" for every pool, held:<job> = "pool prepaid
-- overage" for every open reservation that holds credits.
-- KEYS[1] account hash   KEYS[2] pools set   KEYS[3] journal
-- KEYS[4] checkpoints zset (stream id by at, unix ms)   KEYS[5] pending zset
-- KEYS[6 .. 5+n] the pool hashes, in the order of the names
-- KEYS[6+n ..] the reservation hashes, in the order of the jobs
-- ARGV[1] run key  ARGV[2] now (unix ms)  ARGV[3] cut (unix ms; 0: no trim)
-- ARGV[4] n, the number of pools  ARGV[5 .. 4+n] the pool names
-- ARGV[5+n ..] the jobs of the pending set
-- -> {"OK", checkpoint id or "", written 0|1, entries trimmed}
--    {"DONE", checkpoint id or ""}   this key ran already
--    {"STALE"}   the names given are not the pools set or the pending set
--    {"UNKNOWN_ACCOUNT"}
local run_key, now, cut, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local jobs_from = 5 + n
local acct = redis.call('HMGET', KEYS[1], 'seq', 'checkpoint_key', 'checkpoint_id')
if redis.call('EXISTS', KEYS[1]) == 0 then return {'UNKNOWN_ACCOUNT'} end
if acct[2] == run_key then return {'DONE', acct[3] or ''} end
if redis.call('SCARD', KEYS[2]) ~= n or redis.call('ZCARD', KEYS[5]) ~= #ARGV - jobs_from + 1 then
  return {'STALE'}
end
for i = 1, n do
  if redis.call('SISMEMBER', KEYS[2], ARGV[4 + i]) == 0 then return {'STALE'} end
end
for i = jobs_from, #ARGV do
  if not redis.call('ZSCORE', KEYS[5], ARGV[i]) then return {'STALE'} end
end

local seq = acct[1] or '0'
local id, written = acct[3] or '', 0
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local last_is_checkpoint = false
if last[1] then
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'type' then last_is_checkpoint = f[i + 1] == 'checkpoint' end
  end
  if last_is_checkpoint then id = last[1][1] end
end
if seq ~= '0' and not last_is_checkpoint then
  local f = {'seq', seq, 'at', now, 'type', 'checkpoint'}
  for i = 1, n do
    local v = redis.call('HMGET', KEYS[5 + i], 'allocated', 'used', 'reserved', 'overage_reserved',
      'overage_outstanding', 'period_start', 'period_end', 'carried', 'grants_available')
    for k = 1, 9 do v[k] = v[k] or '0' end
    f[#f + 1] = 'pool:' .. ARGV[4 + i]
    f[#f + 1] = table.concat(v, ' ')
  end
  for i = jobs_from, #ARGV do
    local r = redis.call('HMGET', KEYS[1 + i], 'state', 'pool', 'prepaid', 'overage')
    if r[1] == 'reserved' and (tonumber(r[3]) or 0) + (tonumber(r[4]) or 0) ~= 0 then
      f[#f + 1] = 'held:' .. ARGV[i]
      f[#f + 1] = r[2] .. ' ' .. (r[3] or '0') .. ' ' .. (r[4] or '0')
    end
  end
  id = redis.call('XADD', KEYS[3], '*', unpack(f))
  redis.call('ZADD', KEYS[4], now, id)
  written = 1
end
redis.call('HSET', KEYS[1], 'checkpoint_key', run_key, 'checkpoint_id', id)

local trimmed = 0
if cut > 0 then
  -- Ties in at (a stopped test clock) may pick an older checkpoint than the
  -- newest: it trims less, never past a checkpoint.
  local prev = redis.call('ZREVRANGEBYSCORE', KEYS[4], '(' .. ARGV[3], '-inf', 'LIMIT', 0, 1)
  if prev[1] then
    trimmed = redis.call('XTRIM', KEYS[3], 'MINID', prev[1])
    local rank = redis.call('ZRANK', KEYS[4], prev[1])
    if rank > 0 then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, rank - 1) end
  end
end
return {'OK', id, written, trimmed}
