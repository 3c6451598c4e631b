// Package jobs is creditrun's core: the kinds of job a customer submits, their
// validation, the job record and its states, and the rules that tie a job to
// its credits. It imports no infrastructure: the ledger, the queue and the
// job store sit behind interfaces that cmd wires to Redis and asynq.
package jobs
