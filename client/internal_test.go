package client

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"date ahead", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"absent", "", 0, false},
		{"negative", "-3", 0, false},
		{"junk", "soon", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.in, now)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for attempt, most := range map[int]time.Duration{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 30: 1000} {
		most *= time.Millisecond
		for range 50 {
			if d := p.backoff(attempt); d < most/2 || d > most {
				t.Fatalf("backoff(%d) = %s, want %s to %s", attempt, d, most/2, most)
			}
		}
	}
}

func TestContentRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes */200", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, total, ok := contentRange(tc.in)
		if start != tc.start || total != tc.total || ok != tc.ok {
			t.Errorf("contentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, start, total, ok, tc.start, tc.total, tc.ok)
		}
	}
}

func TestResultName(t *testing.T) {
	for _, tc := range []struct {
		url    string
		format Format
		want   string
	}{
		{"http://h/v1/files/results/acme/job_1/2.csv?expires=1&sig=x", FormatCSV, "2.csv"},
		{"https://s3.example/bucket/results/acme/job_1/1.jsonl?X-Amz-Signature=y", FormatJSONL, "1.jsonl"},
		{"http://h/v1/files/results/acme/job_1/..", FormatJSON, "3.json"},
		{"http://h/", FormatCSV, "3.csv"},
		{"http://h/x/.hidden", "we/ird", "3.dat"},
	} {
		if got := resultName(2, Result{URL: tc.url, Format: tc.format}); got != tc.want {
			t.Errorf("resultName(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
