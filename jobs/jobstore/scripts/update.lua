-- update.lua: compare and set one job. The new record is written only if the
-- stored one is, byte for byte, the one the caller read. A job that ends gets
-- its TTL (kept, not renewed, if it had ended before), its progress hash goes
-- (the record carries the final progress), and it leaves the index of jobs
-- that have not ended. A job that runs loses any TTL. A search's records live
-- in their own key, written here with the job so that the two never disagree,
-- and get the job's TTL. Running it twice (a retry after a lost reply) finds
-- the new record written and answers 1 again, changing nothing more.
-- KEYS[1] job   KEYS[2] items   KEYS[3] progress hash
-- KEYS[4] the account's index of jobs with result files kept
-- KEYS[5] the account's index of jobs that have not ended   KEYS[6] records
-- ARGV[1] the job JSON as read   ARGV[2] the new job JSON
-- ARGV[3] TTL in ms when the new job has ended, 0 while it has not
-- ARGV[4] progress done, ARGV[5] progress total: written to the hash while the
--         job has not ended; '' leaves the hash alone
-- ARGV[6] the job's id   ARGV[7] its finish time (unix ms) to index it in
--         KEYS[4]; '-' drops it from there; '' leaves the index alone
-- ARGV[8] '=' followed by the records JSON to write them; '-' deletes them;
--         '' leaves them alone
-- KEYS[7] a guard's hash (the job's key when there is no guard)
-- KEYS[8] the account's outbox stream (webhook events)
-- ARGV[9] the event to write there with the new record (job.succeeded, …),
--          '' for none; a rerun finds the record written and writes none
-- ARGV[10] now (unix ms), the event's time
-- ARGV[11..] the guard: field, value, ... pairs KEYS[7] must have, where a
--            value of '' means the field is absent; none for no guard
-- -> 1 written | 0 the job changed since it was read | -1 no such job
--    -2 the guard does not hold: nothing written
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then
  if cur == ARGV[2] then return 1 end
  return 0
end
for i = 11, #ARGV, 2 do
  if (redis.call('HGET', KEYS[7], ARGV[i]) or '') ~= ARGV[i + 1] then return -2 end
end
local ttl = tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[9] ~= '' then
  redis.call('XADD', KEYS[8], '*', 'type', ARGV[9], 'at', ARGV[10], 'ref', ARGV[6])
end
if ARGV[8] == '-' then
  redis.call('DEL', KEYS[6])
elseif ARGV[8] ~= '' then
  redis.call('SET', KEYS[6], string.sub(ARGV[8], 2))
end
if ttl > 0 then
  if left > 0 then ttl = left end
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[5], ARGV[6])
else
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[6])
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], 'done', ARGV[4], 'total', ARGV[5])
  end
end
if ARGV[7] == '-' then
  redis.call('ZREM', KEYS[4], ARGV[6])
elseif ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[6])
end
return 1
