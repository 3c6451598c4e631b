package benchmark

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The figures issues 2, 4, 5 and 6 ask `creditrun bench --json` for, by name.
var contractFields = []string{
	"ledger_pairs_per_s", "trivial_pairs_per_s", "ledger_pair_ratio",
	"submit_per_s", "asynq_enqueue_per_s", "submit_ratio",
	"e2e_per_s", "asynq_e2e_per_s", "e2e_ratio",
	"submit_p50_ms", "submit_p99_ms",
	"download_rss_mb_1m", "download_rss_mb_10k",
	"s3_download_ratio", "s3_download_rss_mb",
	"refresh_accounts_per_s",
}

// The figures of the ungated peer, by name; they follow the contract's.
var ungatedFields = []string{
	"ungated_submit_per_s", "submit_vs_ungated", "ungated_e2e_per_s", "e2e_vs_ungated",
	"job_redis_cpu_us", "ungated_job_redis_cpu_us",
}

func TestFiguresJSONIsOneObjectWithTheContractFields(t *testing.T) {
	f := Figures{SubmitPerS: 1234567, SubmitRatio: 0.25, DownloadRSSMB1M: 140.5}
	var buf bytes.Buffer
	if err := f.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("WriteJSON wrote %d lines, want one object on one line:\n%s", n, buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Concat(contractFields, ungatedFields) {
		if _, ok := got[name]; !ok {
			t.Errorf("JSON has no %q: %s", name, buf.String())
		}
	}
	for name, want := range map[string]float64{"submit_per_s": 1234567, "submit_ratio": 0.25, "download_rss_mb_1m": 140.5} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

func TestFiguresTextHasOneLinePerJSONField(t *testing.T) {
	f := Figures{SubmitPerS: 1234567, SubmitP99Ms: 4.25, Goroutines: 32}
	var text, js bytes.Buffer
	if err := f.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(js.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if len(lines) != len(fields) {
		t.Errorf("%d text lines, %d JSON fields", len(lines), len(fields))
	}
	for _, want := range []string{"submit_per_s: 1234567", "submit_p99_ms: 4.25", "goroutines: 32", "e2e_ratio: 0"} {
		if !strings.Contains(text.String(), want+"\n") {
			t.Errorf("text has no line %q:\n%s", want, text.String())
		}
	}
	for i, name := range contractFields {
		if !strings.HasPrefix(lines[i], name+": ") {
			t.Errorf("line %d is %q, want %s first", i, lines[i], name)
		}
	}
}

func TestRatioAndRound(t *testing.T) {
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"ratio", Ratio(1, 3), 0.33},
		{"ratio rounds half up", Ratio(1, 8), 0.13},
		{"ratio of nothing", Ratio(5, 0), 0},
		{"round to whole", Round(4166.6, 0), 4167},
		{"round to tenths", Round(59.44, 1), 59.4},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
