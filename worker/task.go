package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// TypeRun is the asynq task type that runs one job.
const TypeRun = "job:run"

// QueueName is the asynq queue of job:run tasks.
const QueueName = "default"

// payload is a job:run task's payload: the job to run.
type payload struct {
	Account string `json:"account"`
	Job     string `json:"job"`
}

// NewRunTask returns the job:run task of a job. Its task id is the job id,
// which the caller sets with asynq.TaskID.
func NewRunTask(account, job string) *asynq.Task {
	b, _ := json.Marshal(payload{Account: account, Job: job}) // two strings always encode
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
