package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
)

// TypeRun is the asynq task type that runs one job.
const TypeRun = "job:run"

// QueueName is the asynq queue of job:run tasks.
const QueueName = "default"

// payload is a job:run task's payload: the job to run and, when it is
// short, the revision of the job's record that the submit wrote
// (jobs.Job.Rev), from which the worker starts the job without reading
// the record first.
type payload struct {
	Account string `json:"account"`
	Job     string `json:"job"`
	// Rev is the record's JSON as is, not a string of it: decoding a
	// payload then unescapes nothing.
	Rev json.RawMessage `json:"rev,omitempty"`
}

// maxPayloadRev is the longest revision a task carries; the record of a job
// with a longer one (an enrichment's many tracking ids) is read at start.
const maxPayloadRev = 4 << 10

// NewRunTask returns the job:run task of a job, without a revision: the
// worker reads the job's record to start it. Its task id is the job id,
// which the caller sets with asynq.TaskID.
func NewRunTask(account, job string) *asynq.Task {
	return NewRunTaskOf(jobs.Job{Account: account, ID: job})
}

// NewRunTaskOf returns the job:run task of j, with j.Rev when it is at most
// maxPayloadRev long.
func NewRunTaskOf(j jobs.Job) *asynq.Task {
	p := payload{Account: j.Account, Job: j.ID}
	if len(j.Rev) <= maxPayloadRev && json.Valid([]byte(j.Rev)) {
		p.Rev = json.RawMessage(j.Rev)
	}
	b, _ := json.Marshal(p) // strings and valid JSON always encode
	return asynq.NewTask(TypeRun, b)
}

// decodePayload reads a job:run payload; both fields are required.
func decodePayload(b []byte) (payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return payload{}, fmt.Errorf("decode %s payload: %w", TypeRun, err)
	}
	if p.Account == "" || p.Job == "" {
		return payload{}, fmt.Errorf("decode %s payload: %w", TypeRun, errors.New("account and job are required"))
	}
	return p, nil
}
