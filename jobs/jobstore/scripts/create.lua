-- create.lua: write a new job, its items, its records and its place in the
-- account's index
-- (and, while it has not ended, in the index of jobs that have not ended),
-- unless the job's id is taken. Running it twice (a retry after a lost
-- reply) finds its own record and answers as the first run did.
-- KEYS[1] job   KEYS[2] items   KEYS[3] progress hash   KEYS[4] jobs zset
-- KEYS[5] the account's index of jobs that have not ended   KEYS[6] records
-- ARGV[1] job JSON   ARGV[2] items JSON ('' for none)   ARGV[3] created (unix ms)
-- ARGV[4] job id     ARGV[5] TTL in ms when the job has ended already, else 0
-- ARGV[6] a search's records JSON ('' for none)
-- KEYS[7] the account's outbox stream (webhook events)
-- ARGV[7] the event of a job created ended (job.succeeded, …), '' for none
-- ARGV[8] now (unix ms), the event's time
-- KEYS[8] a guard's hash (the job's key when there is no guard)
-- ARGV[9..] the guard: field, value, ... pairs the hash must have, where a
--           value of '' means the field is absent; none for no guard
-- -> 1 created | 0 the id is taken by another record
--    -2 the guard does not hold: nothing written
local cur = redis.call('GET', KEYS[1])
if cur then
  if cur == ARGV[1] then return 1 end
  return 0
end
for i = 9, #ARGV, 2 do
  if (redis.call('HGET', KEYS[8], ARGV[i]) or '') ~= ARGV[i + 1] then return -2 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2])
else
  redis.call('DEL', KEYS[2])
end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[6], ARGV[6])
else
  redis.call('DEL', KEYS[6])
end
local ttl = tonumber(ARGV[5])
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[7], '*', 'type', ARGV[7], 'at', ARGV[8], 'ref', ARGV[4])
end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
else
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
return 1
