-- progress.lua: record a job's progress, unless it has ended. Only an ended
-- job's record has a TTL, so the TTL tells without decoding the JSON, and no
-- progress hash outlives its job.
-- KEYS[1] job   KEYS[2] progress hash
-- ARGV[1] done  ARGV[2] total
-- -> 1 written | 0 the job has ended | -1 no such job
local left = redis.call('PTTL', KEYS[1])
if left == -2 then return -1 end
if left >= 0 then return 0 end
redis.call('HSET', KEYS[2], 'done', ARGV[1], 'total', ARGV[2])
return 1
