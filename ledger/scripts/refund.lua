-- refund.lua: give back, exactly once, all that one settled job was charged,
-- for a job that will not show its work: its prepaid posting (taken off
-- used when it was posted this period, added to allocated when it was posted
-- in an earlier one), its overage (an unpaid hold is waived; a paid one is
-- marked refund_due, money for finance to pay back), and the record ids it
-- was the first to charge. Refunding a refunded job changes nothing more, so
-- a retry after a lost reply moves nothing twice. The job leaves the charges
-- set whatever the outcome.
-- KEYS[1] account hash   KEYS[2] pool hash   KEYS[3] reservation hash
-- KEYS[4] journal        KEYS[5] charges zset   KEYS[6] dedup set
-- KEYS[7] the job's charged records set   KEYS[8] hold hash   KEYS[9] grants hash
-- ARGV[1] now (unix ms)  ARGV[2] reason  ARGV[3] pool  ARGV[4] job
-- What was posted from grants goes back to each grant that is still active,
-- and is forfeited for one that has ended.
-- -> {"OK", field, value, ...}   the reservation hash (refunded, or voided:
--                                nothing was charged)
--    {"NOT_FOUND"} | {"POOL", reserved pool} | {"OPEN"}
--    {"ROLL", period_end, schedule}   the pool's period has ended: roll it, run again
local now, reason, job = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local flat = redis.call('HGETALL', KEYS[3])
if #flat == 0 then
  redis.call('ZREM', KEYS[5], job)
  return {'NOT_FOUND'}
end
local r = hash_table(flat)
if r.pool ~= ARGV[3] then return {'POOL', r.pool} end
if r.state == 'reserved' then return {'OPEN'} end
if r.state ~= 'settled' then
  redis.call('ZREM', KEYS[5], job)
  return reply_fields(flat)
end

local pp, op, pool = num(r.prepaid_posted), num(r.overage_posted), r.pool
local p = read_pool(KEYS[2])
local roll = due_roll(string.format('%d', p.period_end), p.schedule, ARGV[1])
if roll then return roll end
local refunded = 0
-- the sources of the prepaid posting, taken in the order settle posts them
local grant_back = {}
if r.grants and pp > 0 then
  local parts, from_grants = grant_parts(r.grants)
  local left = pp - math.min(pp, num(r.prepaid) - from_grants)
  pp = pp - left
  for _, part in ipairs(parts) do
    local n = math.min(left, part[2])
    left = left - n
    if n > 0 then grant_back[#grant_back + 1] = {part[1], n} end
  end
end
for _, b in ipairs(grant_back) do
  local g, n = grant_get(KEYS[9], b[1]), b[2]
  if g.status == 'active' then
    g.remaining = g.remaining + n
    grant_put(KEYS[9], g)
    change(KEYS[1], KEYS[4], now, 'refund', pool, job, n, p, {grants_available = n},
      {'reason', reason, 'grant', g.id, 'dgr', n})
    refunded = refunded + n
  end
end
if pp > 0 then
  -- used counts this period's postings only: a charge of an earlier period
  -- (the period the settle found, posted_period) comes back as allocation
  -- of this one
  local d = {used = -pp}
  local posted_in = num(r.ended_at) >= p.period_start
  if r.posted_period then posted_in = num(r.posted_period) == p.period_start end
  if not posted_in then d = {allocated = pp} end
  change(KEYS[1], KEYS[4], now, 'refund', pool, job, pp, p, d, {'reason', reason})
  refunded = refunded + pp
end
if op > 0 and r.hold then
  local h = redis.call('HMGET', KEYS[8], 'status', 'credits')
  local credits = num(h[2])
  if h[1] == 'unpaid' then
    change(KEYS[1], KEYS[4], now, 'hold_waived', pool, job, credits, p,
      {overage_outstanding = -credits}, {'hold', r.hold, 'reason', reason})
    redis.call('HSET', KEYS[8], 'status', 'waived', 'paid_at', ARGV[1], 'waive_reason', reason)
    refunded = refunded + credits
  elseif h[1] == 'paid' then
    redis.call('HSET', KEYS[8], 'refund_due', credits)
    r.overage_refund_due = credits
  end
end
save_counts(KEYS[2], p)

if r.dedup == '1' then
  local ids = redis.call('SMEMBERS', KEYS[7])
  for i = 1, #ids, 1000 do
    redis.call('SREM', KEYS[6], unpack(ids, i, math.min(i + 999, #ids)))
  end
  redis.call('DEL', KEYS[7])
end
r.state, r.refunded, r.refunded_at, r.refund_reason = 'refunded', refunded, ARGV[1], reason
local w = {'state', 'refunded', 'refunded', refunded, 'refunded_at', ARGV[1], 'refund_reason', reason}
if r.overage_refund_due then
  w[#w + 1] = 'overage_refund_due'
  w[#w + 1] = r.overage_refund_due
end
redis.call('HSET', KEYS[3], unpack(w))
redis.call('ZREM', KEYS[5], job)
return reply_fields(table_fields(r))
