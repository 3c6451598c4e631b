package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The example serves a search of its own data type end to end: submitted
// over HTTP, run by its worker on its source, answered with the records the
// query selects. A data type the source lacks is refused, listing vehicles.
func TestCustomSourceSearch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	type started struct{ base, key string }
	ready := make(chan started, 1)
	errc := make(chan error, 1)
	var banner bytes.Buffer
	go func() {
		errc <- run(ctx, "127.0.0.1:0", &banner, func(base, key string) { ready <- started{base, key} })
	}()
	var s started
	select {
	case s = <-ready:
	case err := <-errc:
		t.Fatalf("run stopped before serving: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if !strings.Contains(banner.String(), "curl -s "+s.base+"/v1/searches -H 'Authorization: Bearer "+s.key+"'") {
		t.Errorf("the banner has no curl line with the key:\n%s", banner.String())
	}

	status, body := post(t, s, "/v1/searches", `{"data_type":"vehicles","query":"make:volvo AND year:[2000 TO *]","num_records":5}`)
	if status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", status, body)
	}
	var sub struct{ Job struct{ ID string } }
	if err := json.Unmarshal(body, &sub); err != nil {
		t.Fatal(err)
	}

	var job struct {
		Status    string
		NumFound  int `json:"num_found"`
		TotalCost int `json:"total_cost"`
		Records   []struct{ ID, Make, Model string }
		Error     string
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, s, "/v1/jobs/"+sub.Job.ID)
		if err := json.Unmarshal(body, &job); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if job.Status != "queued" && job.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is still %s", job.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ids []string
	for _, r := range job.Records {
		ids = append(ids, r.ID)
	}
	if job.Status != "succeeded" || job.NumFound != 2 || job.TotalCost != 2 || !slices.Equal(ids, []string{"veh_001", "veh_004"}) {
		t.Errorf("job: %+v, want succeeded with veh_001 and veh_004 at 2 credits", job)
	}
	if job.Records[1].Model != "XC40" {
		t.Errorf("record veh_004: %+v, want the XC40", job.Records[1])
	}

	status, body = post(t, s, "/v1/searches", `{"data_type":"people","num_records":5}`)
	want := `data_type \"people\" is not one this dataset has: vehicles`
	if status != http.StatusBadRequest || !strings.Contains(string(body), want) {
		t.Errorf("search of people: %d %s, want 400 saying %s", status, body, want)
	}
}

func post(t *testing.T, s struct{ base, key string }, path, body string) (int, []byte) {
	t.Helper()
	return do(t, s.key, "POST", s.base+path, body)
}

func get(t *testing.T, s struct{ base, key string }, path string) (int, []byte) {
	t.Helper()
	return do(t, s.key, "GET", s.base+path, "")
}

func do(t *testing.T, key, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
