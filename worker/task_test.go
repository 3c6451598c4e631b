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
		{"short", `{"id":"job_1","status":"queued","query":"name:\"a \u003c b\""}`, true},
		{"at the bound", `{"q":"` + strings.Repeat("x", 4<<10-8) + `"}`, true},
		{"too long", `{"q":"` + strings.Repeat("x", 4<<10-7) + `"}`, false},
		{"not JSON", `{"q":`, false},
		{"none", "", false},
	} {
		task := worker.NewRunTaskOf(jobs.Job{Account: "acme", ID: "job_1", Rev: tc.rev})
		var p map[string]json.RawMessage
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			t.Fatal(err)
		}
		if string(p["account"]) != `"acme"` || string(p["job"]) != `"job_1"` {
			t.Errorf("%s: payload %s", tc.name, task.Payload())
		}
		// The revision is carried byte for byte: the worker's write
		// compares it with the stored record.
		if rev, ok := p["rev"]; ok != tc.carried || tc.carried && string(rev) != tc.rev {
			t.Errorf("%s: rev carried %v (%d bytes), want %v", tc.name, ok, len(rev), tc.carried)
		}
	}
}
