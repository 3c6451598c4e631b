-- slot.lua: take, or renew, one job's slot among the jobs of one account
-- that run at once across the cluster. Taking a slot the job holds renews it,
-- so a retry after a lost reply changes nothing more. A slot whose lease ran
-- out (its worker died) is free again.
-- KEYS[1] running zset (job -> lease end, unix ms)
-- KEYS[2] waiting zset (job -> until when it counts as waiting, unix ms)
-- ARGV[1] job  ARGV[2] now (unix ms)  ARGV[3] lease (ms)  ARGV[4] limit
-- ARGV[5] how long a job turned away counts as waiting (ms)
-- -> {1, running, waiting}  the job holds a slot, taken now or renewed
--    {0, running, waiting}  the account has limit jobs running: not taken
local job, now = ARGV[1], tonumber(ARGV[2])
local lease, limit, wait = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], job)
local running = redis.call('ZCARD', KEYS[1])
if held or running < limit then
  redis.call('ZADD', KEYS[1], now + lease, job)
  redis.call('PEXPIRE', KEYS[1], lease)
  redis.call('ZREM', KEYS[2], job)
  if not held then running = running + 1 end
  return {1, running, redis.call('ZCARD', KEYS[2])}
end
redis.call('ZADD', KEYS[2], now + wait, job)
redis.call('PEXPIRE', KEYS[2], wait)
return {0, running, redis.call('ZCARD', KEYS[2])}
