-- refresh.lua: start a pool's new period, at most once per period: used resets
-- and allocated becomes the grant, with no rollover. What reservations in
-- flight hold from the ended period's allocation moves from reserved to
-- carried: still theirs to spend, and what they give back is forfeited, never
-- added to the new period. Grants and overage debt stay. A period that does
-- not start after the pool's current one changes nothing, so a late or
-- repeated refresh is harmless.
--
-- go-redis resends a pipeline whose replies it lost, so this may run twice for
-- one call: the pool keeps the token of the call that applied its period, and
-- a rerun with that token for that period reports applied again, changing
-- nothing, so that a sweep counts each refresh once.
-- An applied refresh writes period.refreshed to the outbox.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] journal   KEYS[4] outbox stream
-- ARGV[1] pool  ARGV[2] period start (unix ms)  ARGV[3] period end (unix ms)
-- ARGV[4] now (unix ms)  ARGV[5] the call's token  ARGV[6] the pool's schedule
-- (its plan's cron spec; "" leaves the pool's as it is)
-- -> {"OK", applied 0|1, field, value, ...}   the pool hash
--    {"UNKNOWN_ACCOUNT"} | {"UNKNOWN_POOL"}
--
-- Written for speed: a sweep runs it once per pool and period, 100,000s at a
-- time. It reads only the fields it needs, writes the pool in one HSET, and
-- passes values to redis.call as strings (see settle.lua).
local pool, start_s, stop_s, now_s, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local v = redis.call('HMGET', KEYS[2], 'grant', 'period_start', 'allocated', 'used', 'reserved',
  'refreshed_by', 'carried', 'grants_available', 'schedule')
if not v[1] then return missing(KEYS[1]) end -- every pool has a grant
if tonumber(start_s) <= num(v[2]) then
  if v[2] == start_s and v[6] == token then return reply(KEYS[2], 1) end -- our own, rerun
  return reply(KEYS[2], 0)
end
local grant, allocated, used, reserved = num(v[1]), num(v[3]), num(v[4]), num(v[5])
local new_allocated = grant

-- The journal entry change() would write: the grant as amount, the nonzero
-- deltas, available after, and the new period.
local entry = {'at', now_s, 'type', 'refresh', 'pool', pool, 'amount', string.format('%d', grant)}
local w = {'period_start', start_s, 'period_end', stop_s, 'refreshed_by', token}
if new_allocated ~= allocated then
  entry[#entry + 1] = 'da'
  entry[#entry + 1] = string.format('%d', new_allocated - allocated)
  w[#w + 1] = 'allocated'
  w[#w + 1] = string.format('%d', new_allocated)
end
if used ~= 0 then
  entry[#entry + 1] = 'du'
  entry[#entry + 1] = string.format('%d', -used)
  w[#w + 1] = 'used'
  w[#w + 1] = '0'
end
if reserved ~= 0 then
  local r_s = string.format('%d', reserved)
  entry[#entry + 1] = 'dr'
  entry[#entry + 1] = '-' .. r_s
  entry[#entry + 1] = 'dc'
  entry[#entry + 1] = r_s
  w[#w + 1] = 'reserved'
  w[#w + 1] = '0'
  w[#w + 1] = 'carried'
  w[#w + 1] = string.format('%d', num(v[7]) + reserved)
end
if ARGV[6] ~= '' and ARGV[6] ~= v[9] then
  w[#w + 1] = 'schedule'
  w[#w + 1] = ARGV[6]
end
entry[#entry + 1] = 'avail'
entry[#entry + 1] = string.format('%d', new_allocated + num(v[8]))
entry[#entry + 1] = 'period_start'
entry[#entry + 1] = start_s
entry[#entry + 1] = 'period_end'
entry[#entry + 1] = stop_s
journal(KEYS[1], KEYS[3], unpack(entry))
redis.call('HSET', KEYS[2], unpack(w))
emit_event(KEYS[4], 'period.refreshed', now_s, pool, 'period_start', start_s, 'period_end', stop_s,
  'allocated', string.format('%d', new_allocated))
return reply(KEYS[2], 1)
