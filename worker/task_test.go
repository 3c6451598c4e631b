package worker_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/worker"
)

// TestRunTaskRevision: a job:run task carries the revision of the job's
// record when it is short, and leaves out a long one (the worker then reads
// the record).
func TestRunTaskRevision(t *testing.T) {
	for _, tc := range []struct {
		name, rev string
		carried   bool
	}{
		{"short", `{"id":"job_1","status":"queued"}`, true},
		{"at the bound", strings.Repeat("x", 4<<10), true},
		{"too long", strings.Repeat("x", 4<<10+1), false},
		{"none", "", false},
	} {
		task := worker.NewRunTaskOf(jobs.Job{Account: "acme", ID: "job_1", Rev: tc.rev})
		var p map[string]string
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			t.Fatal(err)
		}
		if p["account"] != "acme" || p["job"] != "job_1" {
			t.Errorf("%s: payload %v", tc.name, p)
		}
		if rev, ok := p["rev"]; ok != tc.carried || tc.carried && rev != tc.rev {
			t.Errorf("%s: rev carried %v (%d bytes), want %v", tc.name, ok, len(rev), tc.carried)
		}
	}
}
