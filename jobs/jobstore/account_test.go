package jobstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger/credit"
)

func testAccounts(t *testing.T, h *harness) {
	a := jobs.Account{ID: "acme", Name: "Acme", PlanIDs: []string{"people-1k-99"}, CreatedAt: h.now.Add(-time.Hour)}
	if err := h.store.CreateAccount(h.ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := h.store.Account(h.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Account (-want +got):\n%s", diff)
	}
	if err := h.store.CreateAccount(h.ctx, jobs.Account{ID: "acme", Name: "Other"}); !errors.Is(err, jobs.ErrAccountExists) {
		t.Errorf("CreateAccount of a taken id: %v, want ErrAccountExists", err)
	}
	if got, _ := h.store.Account(h.ctx, "acme"); got.Name != "Acme" {
		t.Errorf("a refused CreateAccount changed the account: %+v", got)
	}
	if _, err := h.store.Account(h.ctx, "globex"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Account of an unknown id: %v, want ErrNotFound", err)
	}

	// Defaults: the store's now, and an empty list of plans.
	if err := h.store.CreateAccount(h.ctx, jobs.Account{ID: "initech"}); err != nil {
		t.Fatal(err)
	}
	got, err = h.store.Account(h.ctx, "initech")
	if err != nil || got.PlanIDs == nil || !got.CreatedAt.Equal(h.now) {
		t.Errorf("an account created with defaults: %+v, %v", got, err)
	}
}

var badIDs = []string{"", "a:b", "{x}", "a}", "a b", "tab\t", "new\nline", strings.Repeat("x", credit.MaxIDLen+1), "bad\xff"}

func testBadIDs(t *testing.T, h *harness) {
	h.create(h.job("acme", "job_01", jobs.Search, 0), nil)
	for _, id := range badIDs {
		if err := h.store.Create(h.ctx, h.job("acme", id, jobs.Search, 0), nil); !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("Create of job %q: %v, want ErrInvalidID", id, err)
		}
		if err := h.store.Create(h.ctx, h.job(id, "job_02", jobs.Search, 0), nil); !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("Create in account %q: %v, want ErrInvalidID", id, err)
		}
		if err := h.store.CreateAccount(h.ctx, jobs.Account{ID: id}); !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("CreateAccount %q: %v, want ErrInvalidID", id, err)
		}
		if _, _, err := h.store.List(h.ctx, id, jobs.ListFilter{}); !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("List of account %q: %v, want ErrInvalidID", id, err)
		}
		// A lookup of a malformed id finds nothing, and says why.
		lookups := map[string]error{}
		_, lookups["Get"] = h.store.Get(h.ctx, "acme", id)
		_, lookups["Items"] = h.store.Items(h.ctx, "acme", id)
		_, lookups["Update"] = h.store.Update(h.ctx, "acme", id, []jobs.Status{jobs.Queued}, func(*jobs.Job) {})
		lookups["SetProgress"] = h.store.SetProgress(h.ctx, "acme", id, jobs.Progress{})
		_, lookups["Get by account"] = h.store.Get(h.ctx, id, "job_01")
		_, lookups["Account"] = h.store.Account(h.ctx, id)
		for name, err := range lookups {
			if !errors.Is(err, jobs.ErrNotFound) || !errors.Is(err, credit.ErrInvalidID) {
				t.Errorf("%s of %q: %v, want ErrNotFound and ErrInvalidID", name, id, err)
			}
		}
	}
	// Nothing of the bad calls reached Redis under a stray key.
	for _, k := range allKeys(t, h) {
		if !strings.HasPrefix(k, h.key("acme")+":") {
			t.Errorf("stray key %q", k)
		}
	}
}

// allKeys returns the keys of the harness's prefix, on every master of a
// cluster.
func allKeys(t *testing.T, h *harness) []string {
	t.Helper()
	var mu sync.Mutex
	var all []string
	scan := func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, h.prefix+":*").Result()
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := h.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(h.ctx, scan)
	} else {
		err = scan(h.ctx, h.client.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no keys under the prefix: the scan sees nothing")
	}
	return all
}

// testAccountsByID reads known, unknown, malformed and repeated ids, a large
// batch, a corrupt record and an unreachable server.
func testAccountsByID(t *testing.T, h *harness) {
	want := map[string]jobs.Account{}
	for _, id := range []string{"acme", "globex"} {
		a := jobs.Account{ID: id, Name: strings.ToUpper(id), PlanIDs: []string{"people-1k-99"}, CreatedAt: h.now}
		if err := h.store.CreateAccount(h.ctx, a); err != nil {
			t.Fatal(err)
		}
		want[id] = a
	}

	// Known ids are found; unknown and malformed ones are absent, and a
	// repeated id is one entry.
	ids := append([]string{"acme", "initech", "globex", "acme"}, badIDs...)
	got, err := h.store.AccountsByID(h.ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AccountsByID (-want +got):\n%s", diff)
	}
	for name, ids := range map[string][]string{"nil": nil, "empty": {}, "only unknown": {"initech"}, "only malformed": badIDs} {
		got, err := h.store.AccountsByID(h.ctx, ids)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("AccountsByID of %s ids: %v, %v; want an empty map", name, got, err)
		}
	}

	// A large batch, spread over every slot of a cluster.
	const n = 3000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	many := make([]string, 0, n+n/10)
	for i := range n {
		id := "bulk-" + strconv.Itoa(i)
		many = append(many, id)
		wg.Go(func() {
			errs <- h.store.CreateAccount(h.ctx, jobs.Account{ID: id, PlanIDs: []string{"plan-" + strconv.Itoa(i%7)}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n / 10 {
		many = append(many, "missing-"+strconv.Itoa(i))
	}
	got, err = h.store.AccountsByID(h.ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("AccountsByID of %d known and %d unknown ids: %d accounts", n, n/10, len(got))
	}
	for i := range n {
		id := "bulk-" + strconv.Itoa(i)
		if a := got[id]; a.ID != id || len(a.PlanIDs) != 1 || a.PlanIDs[0] != "plan-"+strconv.Itoa(i%7) || !a.CreatedAt.Equal(h.now) {
			t.Fatalf("account %s: %+v", id, a)
		}
	}

	// A record that does not decode is named in a *BadRecordsError, not
	// taken for an absence, and does not hide the others.
	if err := h.client.Set(h.ctx, h.key("corrupt", "profile"), "{not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err = h.store.AccountsByID(h.ctx, []string{"acme", "corrupt"})
	bad, ok := errors.AsType[*jobstore.BadRecordsError](err)
	if !ok || len(bad.Errs) != 1 || bad.Errs["corrupt"] == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("AccountsByID with a corrupt record: %v; want a *BadRecordsError naming it", err)
	}
	if len(got) != 1 || got["acme"].ID != "acme" {
		t.Errorf("AccountsByID with a corrupt record gave %+v; want acme", got)
	}

	// So is a Redis that cannot be reached.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	if got, err := jobstore.New(down, jobstore.Options{Prefix: h.prefix}).AccountsByID(h.ctx, []string{"acme"}); err == nil {
		t.Errorf("AccountsByID on a Redis that is down: %v, no error", got)
	}
}
