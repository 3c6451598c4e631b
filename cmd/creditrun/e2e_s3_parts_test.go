package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/creditrun/creditrun/storage"
)

// countRecords parses one result file of format f and returns its records.
func countFileRecords(t *testing.T, f string, b []byte) int64 {
	t.Helper()
	switch f {
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) == 0 || rows[0][0] != "id" {
			t.Fatalf("csv file: %d rows, %v", len(rows), err)
		}
		return int64(len(rows) - 1)
	case "json":
		var recs []map[string]any
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("json file: %v", err)
		}
		return int64(len(recs))
	default:
		var n int64
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["id"] == nil {
				t.Fatalf("jsonl line %d: %v", n+1, err)
			}
			n++
		}
		return n
	}
}

// TestE2ES3PartsAndFormats downloads past the part size in every format to
// S3: several parts, each fetched over its presigned link, whose records add
// up to the job's total_cost.
func TestE2ES3PartsAndFormats(t *testing.T) {
	t.Parallel()
	s, _, _ := startS3Stack(t, 7)
	_, key := s.newAccount(t, "people-1k-99")
	for _, f := range []string{"csv", "json", "jsonl"} {
		j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 20, "format": f})
		j, r := s.waitSucceeded(t, key, j.ID)
		if j.TotalCost != 20 || len(j.Results) != 3 {
			t.Fatalf("%s: %s", f, r)
		}
		var sum int64
		for i, part := range j.Results {
			if part.Format != f {
				t.Fatalf("%s part %d has format %q", f, i+1, part.Format)
			}
			body := fetch(t, part.URL)
			n := countFileRecords(t, f, body)
			if n != part.Records || int64(len(body)) != part.Bytes {
				t.Fatalf("%s part %d: %d records and %d bytes, results say %d and %d", f, i+1, n, len(body), part.Records, part.Bytes)
			}
			sum += n
		}
		if sum != j.TotalCost {
			t.Fatalf("%s: parts hold %d records, the job cost %d", f, sum, j.TotalCost)
		}
	}
}

// TestE2ES3FinanceReleases pays one held job and waives another through the
// finance API: each call re-tags the job's files in the bucket, releases the
// results at once, and takes the debt off overage_outstanding.
func TestE2ES3FinanceReleases(t *testing.T) {
	t.Parallel()
	s, backend, _ := startS3Stack(t, 0)
	acct, key := s.newAccount(t, "people-1k-99") // overage: limit 100, 10 cents a credit
	var fin struct {
		APIKey string `json:"api_key"`
	}
	s.must(t, http.StatusCreated, "POST", "/v1/keys", s.admin, map[string]any{"role": "finance"}).into(t, &fin)

	for _, tc := range []struct{ action, body, status, tag string }{
		{"pay", `{"payment_ref": "inv_s3"}`, "paid", storage.HoldPaid},
		{"waive", `{"reason": "goodwill"}`, "waived", storage.HoldWaived},
	} {
		s.setAvailable(t, acct, key, "people", 5)
		j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 20, "format": "csv"})
		j, r := s.waitSucceeded(t, key, j.ID)
		if j.Hold == nil || j.Hold.Status != "unpaid" || j.Results != nil {
			t.Fatalf("%s: the held job %s", tc.action, r)
		}
		if got := s.pool(t, key, "people").OverageOutstanding; got != 15 {
			t.Fatalf("%s: overage_outstanding %d, want 15", tc.action, got)
		}
		k := storage.ResultKey(acct, j.ID, 1, "csv")
		if tags, err := backend.Tags(t.Context(), k); err != nil || tags[storage.HoldTag] != storage.HoldUnpaid {
			t.Fatalf("%s: tags before %v, %v", tc.action, tags, err)
		}
		var hold struct {
			Status string `json:"status"`
		}
		s.must(t, http.StatusOK, "POST", fmt.Sprintf("/v1/holds/%s/%s", j.Hold.ID, tc.action), fin.APIKey, json.RawMessage(tc.body)).into(t, &hold)
		if hold.Status != tc.status {
			t.Fatalf("%s: hold status %q", tc.action, hold.Status)
		}
		if tags, err := backend.Tags(t.Context(), k); err != nil || tags[storage.HoldTag] != tc.tag {
			t.Fatalf("%s: tags after %v, %v; want %s", tc.action, tags, err, tc.tag)
		}
		var out struct {
			Results []resultJSON `json:"results"`
		}
		s.must(t, http.StatusOK, "GET", "/v1/jobs/"+j.ID+"/results", key, nil).into(t, &out)
		if len(out.Results) != 1 || countFileRecords(t, "csv", fetch(t, out.Results[0].URL)) != 20 {
			t.Fatalf("%s: results %+v", tc.action, out.Results)
		}
		if got := s.pool(t, key, "people").OverageOutstanding; got != 0 {
			t.Fatalf("%s: overage_outstanding %d after, want 0", tc.action, got)
		}
		// A user key may not pay.
		s.must(t, http.StatusForbidden, "POST", fmt.Sprintf("/v1/holds/%s/%s", j.Hold.ID, tc.action), key, json.RawMessage(tc.body))
	}
}
