package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// runningDev is a `creditrun dev` started by startDev.
type runningDev struct {
	stack
	demo   string
	banner string
	stop   func()
}

// startDev runs `creditrun dev` on dataDir and a free port until stop (or
// the test's end), and returns it once it listens, with the keys its banner
// prints.
func startDev(t *testing.T, dataDir string) *runningDev {
	t.Helper()
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
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("creditrun dev stopped with: %v\n%s", err, out.String())
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-errc:
		stopped = true
		t.Fatalf("creditrun dev did not start: %v\n%s", err, out.String())
	}
	banner := out.String()
	key := regexp.MustCompile(`demo key:\s+(cr_live_\S+)`).FindStringSubmatch(banner)
	admin := regexp.MustCompile(`admin key:\s+(\S+)`).FindStringSubmatch(banner)
	if key == nil || admin == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	d := &runningDev{demo: key[1], banner: banner, stop: stop}
	d.stack = stack{base: publicURL(addr), admin: admin[1], userKeys: map[string]bool{key[1]: true}, rateOn: true}
	return d
}

// TestDevKeepsItsState starts `creditrun dev`, makes state (a search, a
// download with a result file, an admin adjustment, a finance key), stops
// it, starts it again on the same data dir (on another port) and finds it
// all: the same admin and demo keys, which still work, the jobs, their
// result file, the balances and the journal; then a new job runs.
func TestDevKeepsItsState(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDev(t, dataDir)
	search, _ := d.submit(t, d.demo, "/v1/searches", map[string]any{"data_type": "people", "query": "province:TX", "num_records": 5})
	d.waitSucceeded(t, d.demo, search.ID)
	download, _ := d.submit(t, d.demo, "/v1/downloads", map[string]any{"data_type": "properties", "query": "*", "num_records": 7, "format": "csv"})
	dl, _ := d.waitSucceeded(t, d.demo, download.ID)
	if len(dl.Results) != 1 {
		t.Fatalf("download %+v", dl)
	}
	file := fetch(t, dl.Results[0].URL)
	d.setAvailable(t, demoAccount.ID, d.demo, "businesses", 42)
	var fin struct {
		APIKey string `json:"api_key"`
	}
	d.must(t, http.StatusCreated, "POST", "/v1/keys", d.admin, map[string]any{"role": "finance"}).into(t, &fin)
	before := d.account(t, d.demo)
	journal := d.ledgerEntries(t, d.demo)
	d.stop()

	for _, f := range []string{devStoreFile(dataDir), devKeysFile(dataDir)} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v (want mode 0600)", f, fi, err)
		}
	}

	d2 := startDev(t, dataDir)
	if d2.demo != d.demo || d2.admin != d.admin {
		t.Fatalf("new keys after a restart: demo %s then %s, admin %s then %s", d.demo, d2.demo, d.admin, d2.admin)
	}
	after := d2.account(t, d.demo)
	for name, p := range before.Pools {
		q := after.Pools[name]
		if p.Allocated != q.Allocated || p.Used != q.Used || p.Reserved != q.Reserved || p.Available != q.Available {
			t.Errorf("pool %s: %+v before the restart, %+v after", name, p, q)
		}
	}
	if got := after.Pools["businesses"].Available; got != 42 {
		t.Errorf("businesses available %d after the restart, want 42", got)
	}
	if got := d2.ledgerEntries(t, d.demo); len(got) != len(journal) {
		t.Errorf("journal: %d entries before the restart, %d after", len(journal), len(got))
	}
	j, _ := d2.job(t, d.demo, download.ID)
	if j.Status != "succeeded" || len(j.Results) != 1 {
		t.Fatalf("the download after the restart: %+v", j)
	}
	if got := fetch(t, j.Results[0].URL); string(got) != string(file) {
		t.Errorf("the result file after the restart differs:\n%s\nbefore:\n%s", got, file)
	}
	if s, _ := d2.job(t, d.demo, search.ID); s.Status != "succeeded" || len(s.Records) == 0 {
		t.Errorf("the search after the restart: %+v", s)
	}
	d2.must(t, http.StatusOK, "GET", "/v1/holds", fin.APIKey, nil)
	next, _ := d2.submit(t, d.demo, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 2})
	d2.waitSucceeded(t, d.demo, next.ID)
	d2.checkJournal(t, demoAccount.ID, d.demo)
}
