package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDev starts `creditrun dev` from nothing (a fresh data dir, embedded
// Redis), runs the demo search it prints, as printed, with the key it
// prints, and polls the job until it succeeds.
func TestDev(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "fresh")
	addr := freeAddr(t)
	cfg, _, err := parseConfig("dev", []string{"--data-dir", dataDir, "--http-addr", addr}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- dev(ctx, cfg, out, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("creditrun dev stopped with: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		errc <- err
		t.Fatalf("creditrun dev did not start: %v\n%s", err, out.String())
	}
	banner := out.String()
	if _, err := os.Stat(filepath.Join(dataDir, "dataset", "people.jsonl")); err != nil {
		t.Errorf("no sample dataset in the fresh data dir: %v", err)
	}
	key := regexp.MustCompile(`demo key:\s+(cr_live_\S+)`).FindStringSubmatch(banner)
	admin := regexp.MustCompile(`admin key:\s+(\S+)`).FindStringSubmatch(banner)
	if key == nil || admin == nil || !strings.Contains(banner, publicURL(addr)) {
		t.Fatalf("banner:\n%s", banner)
	}
	s := &stack{base: publicURL(addr), admin: admin[1], userKeys: map[string]bool{key[1]: true}, rateOn: true}
	t.Cleanup(func() { s.checkJournal(t, demoAccount.ID, key[1]) })
	a := s.account(t, key[1])
	if a.ID != demoAccount.ID || len(a.Pools) != 4 || a.Role != "user" {
		t.Errorf("demo account %+v", a)
	}

	// The search curl line, as printed: its line and the one it continues
	// on. Without curl, the same request in Go.
	lines := strings.Split(banner, "\n")
	var curl string
	for i, l := range lines {
		if strings.Contains(l, "/v1/searches") && i+1 < len(lines) {
			curl = l + "\n" + lines[i+1]
		}
	}
	if curl == "" {
		t.Fatalf("no search curl line in the banner:\n%s", banner)
	}
	var body []byte
	if _, err := exec.LookPath("curl"); err == nil {
		if body, err = exec.Command("sh", "-c", curl).Output(); err != nil {
			t.Fatalf("%s: %v", curl, err)
		}
	} else {
		data := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(curl)
		if data == nil {
			t.Fatalf("no body in %q", curl)
		}
		body = s.must(t, http.StatusAccepted, "POST", "/v1/searches", key[1], data[1]).body
	}
	var sub struct {
		Job  jobJSON  `json:"job"`
		Meta metaJSON `json:"meta"`
	}
	if err := json.Unmarshal(body, &sub); err != nil || sub.Job.ID == "" {
		t.Fatalf("the printed search answered %s (%v)", body, err)
	}
	j, _ := s.waitSucceeded(t, key[1], sub.Job.ID)
	var recs []map[string]any
	if err := json.Unmarshal(j.Records, &recs); err != nil || int64(len(recs)) != j.TotalCost || j.TotalCost == 0 ||
		j.TotalCost+j.CreditsReleased != sub.Meta.CreditsReserved {
		t.Errorf("demo search: %+v, %d records (%v)", j, len(recs), err)
	}
	for _, r := range recs {
		if r["province"] != "TX" {
			t.Errorf("record outside TX: %v", r)
		}
	}
}
