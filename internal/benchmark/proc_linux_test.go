package benchmark

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{name: "plain", stat: "1234 (creditrun) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 500 1000 200",
			want: 3250 * time.Millisecond},
		{name: "command with spaces and parentheses", stat: "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5",
			want: 30 * time.Millisecond},
		{name: "short", stat: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command", stat: "garbage", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatCPU(%q) = %v, %v; want error %v", tc.stat, got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatCPU(%q) = %v, want %v", tc.stat, got, tc.want)
			}
		})
	}
}

func TestProcessMemoryAndCPUOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	rss, err := currentRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	peak, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("VmRSS %d, VmHWM %d: want 0 < VmRSS <= VmHWM", rss, peak)
	}
	if _, err := procCPU(pid); err != nil {
		t.Error(err)
	}
	if _, err := currentRSS(-1); err == nil {
		t.Error("currentRSS(-1) gave no error")
	}
}
