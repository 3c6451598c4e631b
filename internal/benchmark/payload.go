package benchmark

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/worker"
)

// sampleRunTask is a job:run task as creditrun enqueues one for a search of
// SearchBody by account: its payload carries the revision of the job's
// record (the record's JSON), which the worker starts the job from. The
// bare and ungated peers' payloads are as long.
func sampleRunTask(account string) *asynq.Task {
	j := jobs.Job{
		ID:      "job_" + strings.Repeat("0", 26), // a ULID is 26 characters
		Account: account, Kind: jobs.Search, DataType: "people", Query: "province:TX", Pool: "people",
		Status: jobs.Queued, NumRecords: 5, CreditsReserved: 5, Progress: jobs.Progress{Total: 5},
		Meta:      jobs.Meta{Requested: 5, Processed: 5, CreditsReserved: 5},
		CreatedAt: time.Now().UTC(),
	}
	rev, _ := json.Marshal(j) // a job always encodes
	j.Rev = string(rev)
	return worker.NewRunTaskOf(j)
}
