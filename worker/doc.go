// Package worker runs jobs: it is the asynq side of creditrun. A [Handler]
// takes a job:run task, starts the job, streams records from the source
// through a [ResultWriter] into storage (or inline, for a search), counts the
// job's true cost, and settles it through the jobs service, exactly once
// however often asynq delivers the task. [Queue] is the jobs.Queue that puts
// those tasks in asynq and takes them out again on cancel.
//
// With [AccountSlots], a handler runs at most so many jobs of one account at
// once across the cluster, so that one account's many jobs do not keep the
// others' waiting (slots.go says why a semaphore per account and not queues
// per tier). A search over the source's budget of work fails its job at once.
//
// Delivery is at least once, so everything here is idempotent: result keys
// are deterministic (a redelivery overwrites them), the service's Start and
// Complete refuse a job that has ended, and settlement is keyed by job id.
package worker
