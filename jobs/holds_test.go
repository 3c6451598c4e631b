package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/storage"
)

var _ jobs.Objects = storage.Backend(nil)

// holdsFixture is a service whose result objects live in a local storage
// backend in a temporary directory, re-tagged through objects.
type holdsFixture struct {
	svc     *jobs.Service
	l       *ledger.Redis
	local   *storage.Local
	objects *flakyObjects
}

// flakyObjects is the local backend behind a switch: while failing, SetTags
// and Tags fail as an unreachable S3 would. With noRead it hides Tags, as a
// backend that cannot read tags would.
type flakyObjects struct {
	local   *storage.Local
	mu      sync.Mutex
	failing bool
	sets    int
}

func (o *flakyObjects) fail(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failing = on
}

func (o *flakyObjects) setCalls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sets
}

var errStorageDown = errors.New("storage unreachable")

func (o *flakyObjects) SetTags(ctx context.Context, key string, tags map[string]string) error {
	o.mu.Lock()
	o.sets++
	failing := o.failing
	o.mu.Unlock()
	if failing {
		return errStorageDown
	}
	return o.local.SetTags(ctx, key, tags)
}

func (o *flakyObjects) Delete(ctx context.Context, key string) error {
	o.mu.Lock()
	failing := o.failing
	o.mu.Unlock()
	if failing {
		return errStorageDown
	}
	return o.local.Delete(ctx, key)
}

func (o *flakyObjects) Tags(ctx context.Context, key string) (map[string]string, error) {
	o.mu.Lock()
	failing := o.failing
	o.mu.Unlock()
	if failing {
		return nil, errStorageDown
	}
	return o.local.Tags(ctx, key)
}

// setOnly hides Tags: a backend that can only write tags.
type setOnly struct{ o *flakyObjects }

func (s setOnly) SetTags(ctx context.Context, key string, tags map[string]string) error {
	return s.o.SetTags(ctx, key, tags)
}

func (s setOnly) Delete(ctx context.Context, key string) error { return s.o.Delete(ctx, key) }

func newHoldsFixture(t *testing.T, readTags bool) *holdsFixture {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("th%d", time.Now().UnixNano())
	catalog, err := plan.Parse([]byte(testPlans))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(c, ledger.Options{Prefix: prefix})
	store := jobstore.New(c, jobstore.Options{Prefix: prefix})
	local := storage.NewLocal(t.TempDir(), "http://127.0.0.1:1", []byte("0123456789abcdef0123456789abcdef"), nil)
	fo := &flakyObjects{local: local}
	var objects jobs.Objects = fo
	if !readTags {
		objects = setOnly{fo}
	}
	svc := jobs.NewService(jobs.Config{Ledger: l, Store: store, Queue: &jobstest.Queue{}, Accounts: store, Catalog: catalog,
		Objects: objects, ObjectMissingFunc: func(err error) bool { return errors.Is(err, storage.ErrNotFound) }})
	return &holdsFixture{svc: svc, l: l, local: local, objects: fo}
}

// heldJob runs a download of 10+over records on a fresh account of the
// people-10 plan (10 credits, overage up to 5 at 10 cents), writing parts
// result files tagged unpaid as the worker does, and returns the account,
// the job and its hold.
func (f *holdsFixture) heldJob(t *testing.T, over int64, parts int) (string, jobs.Job, credit.Hold) {
	t.Helper()
	a, err := f.svc.CreateAccount(ctx, "", "Acme", []string{"people-10"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Submit(ctx, a.ID, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 10 + over, OnInsufficient: credit.Overage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, a.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	var results []jobs.ResultFile
	for p := 1; p <= parts; p++ {
		key := storage.ResultKey(a.ID, j.ID, p, jobs.CSV)
		n, err := f.local.Put(ctx, key, strings.NewReader("id\nper_1\n"), storage.PutOptions{
			ContentType: "text/csv", Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, jobs.ResultFile{Key: key, Format: jobs.CSV, Records: 1, Bytes: n})
	}
	j, err = f.svc.Complete(ctx, a.ID, j.ID, jobs.Outcome{Found: 10 + over, Delivered: 10 + over, Results: results})
	if err != nil {
		t.Fatal(err)
	}
	if j.HoldID == "" {
		t.Fatalf("job %s went %d over and has no hold", j.ID, over)
	}
	h, err := f.l.Hold(ctx, j.HoldID)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != credit.HoldUnpaid || h.OverageCredits != over || h.AmountDueCents != over*10 {
		t.Fatalf("hold %+v, want unpaid, %d credits, %d cents", h, over, over*10)
	}
	if got := f.outstanding(t, a.ID); got != over {
		t.Fatalf("overage_outstanding %d after settling, want %d", got, over)
	}
	return a.ID, j, h
}

func (f *holdsFixture) outstanding(t *testing.T, account string) int64 {
	t.Helper()
	p, err := f.l.Pool(ctx, account, "people")
	if err != nil {
		t.Fatal(err)
	}
	return p.OverageOutstanding
}

// tags returns the hold tag of each of a job's result objects.
func (f *holdsFixture) tags(t *testing.T, j jobs.Job) []string {
	t.Helper()
	var out []string
	for _, r := range j.Results {
		m, err := f.local.Tags(ctx, r.Key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m[storage.HoldTag])
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// entries returns the account's journal entries of type typ.
func (f *holdsFixture) entries(t *testing.T, account string, typ credit.EntryType) []credit.Entry {
	t.Helper()
	all, err := f.l.JournalAll(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	var out []credit.Entry
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestHoldTagIsStorages keeps the tag that jobs writes the one that storage
// and the bucket policy read.
func TestHoldTagIsStorages(t *testing.T) {
	if jobs.HoldTag != storage.HoldTag || string(credit.HoldPaid) != storage.HoldPaid ||
		string(credit.HoldWaived) != storage.HoldWaived || string(credit.HoldUnpaid) != storage.HoldUnpaid {
		t.Fatalf("jobs tags %s=%s|%s|%s, storage %s=%s|%s|%s", jobs.HoldTag, credit.HoldPaid, credit.HoldWaived, credit.HoldUnpaid,
			storage.HoldTag, storage.HoldPaid, storage.HoldWaived, storage.HoldUnpaid)
	}
	if jobs.HoldNone != storage.HoldNone {
		t.Fatalf("jobs.HoldNone %q, storage.HoldNone %q", jobs.HoldNone, storage.HoldNone)
	}
}

// TestPayHold pays a hold twice and checks the ledger, the journal and the
// tags; then waiving it is a conflict that changes nothing.
func TestPayHold(t *testing.T) {
	f := newHoldsFixture(t, true)
	acct, j, h := f.heldJob(t, 3, 2)
	if got := f.tags(t, j); !cmp.Equal(got, repeat("unpaid", 2)) {
		t.Fatalf("tags before pay %v", got)
	}

	paid, err := f.svc.PayHold(ctx, h.ID, "inv_123")
	if err != nil {
		t.Fatal(err)
	}
	if paid.Status != credit.HoldPaid || paid.PaymentRef != "inv_123" || paid.PaidAt.IsZero() || paid.ID != h.ID || paid.JobID != j.ID {
		t.Errorf("paid hold %+v", paid)
	}
	if got := f.outstanding(t, acct); got != 0 {
		t.Errorf("overage_outstanding %d after pay, want 0", got)
	}
	if got := f.tags(t, j); !cmp.Equal(got, repeat("paid", 2)) {
		t.Errorf("tags after pay %v, want paid", got)
	}
	es := f.entries(t, acct, credit.EntryHoldPaid)
	if len(es) != 1 || es[0].JobID != j.ID || es[0].Amount != 3 || es[0].Pool != "people" || es[0].Delta.OverageOutstanding != -3 {
		t.Errorf("hold_paid entries %+v, want one of 3 credits for %s", es, j.ID)
	}

	// Again, with another reference: nothing changes, the first stays.
	again, err := f.svc.PayHold(ctx, h.ID, "inv_999")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(again, paid) {
		t.Errorf("paying again: %s", cmp.Diff(paid, again))
	}
	if n := len(f.entries(t, acct, credit.EntryHoldPaid)); n != 1 {
		t.Errorf("%d hold_paid entries after paying twice, want 1", n)
	}
	if got := f.outstanding(t, acct); got != 0 {
		t.Errorf("overage_outstanding %d after paying twice", got)
	}

	_, err = f.svc.WaiveHold(ctx, h.ID, "goodwill")
	if !errors.Is(err, credit.ErrHoldConflict) {
		t.Errorf("waiving a paid hold: %v, want ErrHoldConflict", err)
	}
	if cur, _ := f.l.Hold(ctx, h.ID); !cmp.Equal(cur, paid) {
		t.Errorf("the conflict changed the hold: %s", cmp.Diff(paid, cur))
	}
	if n := len(f.entries(t, acct, credit.EntryHoldWaived)); n != 0 {
		t.Errorf("%d hold_waived entries after a refused waive", n)
	}
	if got := f.tags(t, j); !cmp.Equal(got, repeat("paid", 2)) {
		t.Errorf("tags after the refused waive %v", got)
	}
	ledgertest.CheckAccount(t, f.l, acct)
}

// TestWaiveHold waives a hold twice; paying it then is a conflict.
func TestWaiveHold(t *testing.T) {
	f := newHoldsFixture(t, true)
	acct, j, h := f.heldJob(t, 5, 1)
	w, err := f.svc.WaiveHold(ctx, h.ID, "goodwill")
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != credit.HoldWaived || w.WaiveReason != "goodwill" || w.PaymentRef != "" || w.PaidAt.IsZero() {
		t.Errorf("waived hold %+v", w)
	}
	if got := f.outstanding(t, acct); got != 0 {
		t.Errorf("overage_outstanding %d after waive, want 0", got)
	}
	if got := f.tags(t, j); !cmp.Equal(got, []string{"waived"}) {
		t.Errorf("tags after waive %v", got)
	}
	if _, err := f.svc.WaiveHold(ctx, h.ID, "again"); err != nil {
		t.Errorf("waiving again: %v", err)
	}
	es := f.entries(t, acct, credit.EntryHoldWaived)
	if len(es) != 1 || es[0].JobID != j.ID || es[0].Amount != 5 || es[0].Reason != "goodwill" {
		t.Errorf("hold_waived entries %+v, want one of 5 credits", es)
	}
	if _, err := f.svc.PayHold(ctx, h.ID, "inv_1"); !errors.Is(err, credit.ErrHoldConflict) {
		t.Errorf("paying a waived hold: %v, want ErrHoldConflict", err)
	}
	if n := len(f.entries(t, acct, credit.EntryHoldPaid)); n != 0 {
		t.Errorf("%d hold_paid entries after a refused pay", n)
	}
	ledgertest.CheckAccount(t, f.l, acct)
}

// TestHoldRefusals: unknown and malformed ids, and a missing or bad note,
// change nothing.
func TestHoldRefusals(t *testing.T) {
	f := newHoldsFixture(t, true)
	acct, _, h := f.heldJob(t, 2, 1)
	cases := []struct {
		name string
		call func() (credit.Hold, error)
		want func(error) bool
	}{
		{"unknown hold", func() (credit.Hold, error) { return f.svc.PayHold(ctx, "hold_job_nope", "inv_1") },
			func(err error) bool { return errors.Is(err, credit.ErrHoldNotFound) }},
		{"unknown hold waived", func() (credit.Hold, error) { return f.svc.WaiveHold(ctx, "hold_job_nope", "why") },
			func(err error) bool { return errors.Is(err, credit.ErrHoldNotFound) }},
		{"malformed id", func() (credit.Hold, error) { return f.svc.PayHold(ctx, "hold:{x}", "inv_1") },
			func(err error) bool { return errors.Is(err, credit.ErrInvalidID) }},
		{"empty ref", func() (credit.Hold, error) { return f.svc.PayHold(ctx, h.ID, "  ") }, fieldIs("payment_ref")},
		{"long ref", func() (credit.Hold, error) { return f.svc.PayHold(ctx, h.ID, strings.Repeat("x", jobs.MaxNoteLen+1)) }, fieldIs("payment_ref")},
		{"control in ref", func() (credit.Hold, error) { return f.svc.PayHold(ctx, h.ID, "inv\n1") }, fieldIs("payment_ref")},
		{"empty reason", func() (credit.Hold, error) { return f.svc.WaiveHold(ctx, h.ID, "") }, fieldIs("reason")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.call(); !c.want(err) {
				t.Errorf("error %v", err)
			}
		})
	}
	if cur, _ := f.l.Hold(ctx, h.ID); cur.Status != credit.HoldUnpaid {
		t.Errorf("hold %+v after refusals, want unpaid", cur)
	}
	if got := f.outstanding(t, acct); got != 2 {
		t.Errorf("overage_outstanding %d after refusals, want 2", got)
	}
	ledgertest.CheckAccount(t, f.l, acct)
}

func fieldIs(field string) func(error) bool {
	return func(err error) bool {
		fe, ok := errors.AsType[*jobs.FieldError](err)
		return ok && fe.Field == field
	}
}

// TestRetagFailureHeals pays and waives while storage is down: the ledger
// closes the holds, the service says which objects lag, and HealTags, once
// storage is back, tags exactly those, then finds nothing left to do.
func TestRetagFailureHeals(t *testing.T) {
	for _, read := range []bool{true, false} {
		t.Run(fmt.Sprintf("read tags %v", read), func(t *testing.T) {
			f := newHoldsFixture(t, read)
			acctP, jp, hp := f.heldJob(t, 2, 3)
			acctW, jw, hw := f.heldJob(t, 1, 1)
			_, jn, _ := f.heldJob(t, 4, 2) // stays unpaid: never healed

			f.objects.fail(true)
			paid, err := f.svc.PayHold(ctx, hp.ID, "inv_7")
			re, ok := errors.AsType[*jobs.RetagError](err)
			if !ok || re.HoldID != hp.ID || len(re.Keys) != 3 || !errors.Is(err, errStorageDown) {
				t.Fatalf("pay with storage down: %v, want a *RetagError of 3 keys", err)
			}
			if paid.Status != credit.HoldPaid || paid.PaymentRef != "inv_7" {
				t.Errorf("pay with storage down returned %+v, want the paid hold", paid)
			}
			if _, err := f.svc.WaiveHold(ctx, hw.ID, "goodwill"); !errors.Is(err, errStorageDown) {
				t.Fatalf("waive with storage down: %v", err)
			}
			if got := f.outstanding(t, acctP); got != 0 {
				t.Errorf("overage_outstanding %d: the payment must stand", got)
			}
			if got := f.tags(t, jp); !cmp.Equal(got, repeat("unpaid", 3)) {
				t.Fatalf("tags %v while storage was down", got)
			}

			// Still down: the pass reports it, and heals nothing.
			n, err := f.svc.HealTags(ctx, time.Time{})
			if n != 0 || !errors.Is(err, errStorageDown) {
				t.Errorf("HealTags with storage down: %d, %v", n, err)
			}

			f.objects.fail(false)
			// Holds opened before since are not looked at.
			if n, err := f.svc.HealTags(ctx, time.Now().Add(time.Hour)); n != 0 || err != nil {
				t.Errorf("HealTags of holds opened from an hour on: %d, %v", n, err)
			}
			if got := f.tags(t, jp); !cmp.Equal(got, repeat("unpaid", 3)) {
				t.Fatalf("tags %v after a pass that must not see the hold", got)
			}
			n, err = f.svc.HealTags(ctx, time.Now().Add(-time.Hour))
			if err != nil || n != 4 {
				t.Errorf("HealTags: %d, %v; want 4 objects healed", n, err)
			}
			if got := f.tags(t, jp); !cmp.Equal(got, repeat("paid", 3)) {
				t.Errorf("paid job's tags after healing %v", got)
			}
			if got := f.tags(t, jw); !cmp.Equal(got, []string{"waived"}) {
				t.Errorf("waived job's tags after healing %v", got)
			}
			if got := f.tags(t, jn); !cmp.Equal(got, repeat("unpaid", 2)) {
				t.Errorf("unpaid job's tags after healing %v", got)
			}

			// Healed: a pass that can read tags writes none; one that
			// cannot writes them all again, harmlessly.
			before := f.objects.setCalls()
			n, err = f.svc.HealTags(ctx, time.Time{})
			want := 0
			if !read {
				want = 4
			}
			if err != nil || n != want || f.objects.setCalls()-before != want {
				t.Errorf("HealTags again: %d (%d writes), %v; want %d", n, f.objects.setCalls()-before, err, want)
			}

			// A redelivered task rewrote a file unpaid, and another file
			// expired: the pass re-tags the one and skips the other.
			if _, err := f.local.Put(ctx, jp.Results[0].Key, strings.NewReader("id\n"), storage.PutOptions{
				Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}}); err != nil {
				t.Fatal(err)
			}
			if err := f.local.Delete(ctx, jp.Results[1].Key); err != nil {
				t.Fatal(err)
			}
			n, err = f.svc.HealTags(ctx, time.Time{})
			if want := map[bool]int{true: 1, false: 3}[read]; err != nil || n != want {
				t.Errorf("HealTags after a rewrite: %d, %v; want %d", n, err, want)
			}
			if m, err := f.local.Tags(ctx, jp.Results[0].Key); err != nil || m[storage.HoldTag] != "paid" {
				t.Errorf("rewritten file's tags %v, %v", m, err)
			}
			ledgertest.CheckAccount(t, f.l, acctP)
			ledgertest.CheckAccount(t, f.l, acctW)
		})
	}
}

// TestHealTagsKeepsOtherTags: re-tagging changes the hold tag only.
func TestHealTagsKeepsOtherTags(t *testing.T) {
	f := newHoldsFixture(t, true)
	_, j, h := f.heldJob(t, 1, 1)
	key := j.Results[0].Key
	if err := f.local.SetTags(ctx, key, map[string]string{storage.HoldTag: "unpaid", "team": "data"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PayHold(ctx, h.ID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	m, err := f.local.Tags(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{storage.HoldTag: "paid", "team": "data"}; !cmp.Equal(m, want) {
		t.Errorf("tags %v, want %v", m, want)
	}
}

// TestListHolds lists through the service: filters, pages and the total
// over every page.
func TestListHolds(t *testing.T) {
	f := newHoldsFixture(t, true)
	var ids []string
	var acct string
	for _, over := range []int64{1, 2, 3} {
		a, _, h := f.heldJob(t, over, 1)
		ids, acct = append(ids, h.ID), a
	}
	if _, err := f.svc.PayHold(ctx, ids[0], "inv_1"); err != nil {
		t.Fatal(err)
	}
	p1, err := f.svc.ListHolds(ctx, credit.HoldFilter{Status: credit.HoldUnpaid, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Holds) != 1 || p1.Holds[0].ID != ids[2] || p1.NextCursor == "" || p1.TotalDueCents != 50 {
		t.Errorf("first page %+v, want %s, a cursor and 50 cents over both pages", p1, ids[2])
	}
	p2, err := f.svc.ListHolds(ctx, credit.HoldFilter{Status: credit.HoldUnpaid, Limit: 1, Cursor: p1.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Holds) != 1 || p2.Holds[0].ID != ids[1] || p2.NextCursor != "" || p2.TotalDueCents != 50 {
		t.Errorf("second page %+v", p2)
	}
	one, err := f.svc.ListHolds(ctx, credit.HoldFilter{Account: acct})
	if err != nil || len(one.Holds) != 1 || one.Holds[0].ID != ids[2] {
		t.Errorf("by account: %+v, %v", one, err)
	}
	if _, err := f.svc.ListHolds(ctx, credit.HoldFilter{Status: "late"}); !errors.Is(err, credit.ErrInvalidStatus) {
		t.Errorf("bad status: %v", err)
	}
}

// TestHoldsWithoutObjects: no Objects configured means no re-tagging and
// nothing to heal.
func TestHoldsWithoutObjects(t *testing.T) {
	f := newHoldsFixture(t, true)
	_, j, h := f.heldJob(t, 1, 1)
	bare := jobs.NewService(jobs.Config{Ledger: f.l})
	if _, err := bare.PayHold(ctx, h.ID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	if n, err := bare.HealTags(ctx, time.Time{}); n != 0 || err != nil {
		t.Errorf("HealTags without Objects: %d, %v", n, err)
	}
	if got := f.tags(t, j); !cmp.Equal(got, []string{"unpaid"}) {
		t.Errorf("tags %v: nothing should have re-tagged them", got)
	}
}

// TestHealTagsOverageWithoutHold: a job that reserved overage writes its
// files tagged unpaid; when it owes none and its worker died before
// re-tagging them, healing tags them "none", so paid-for results are not
// locked for good.
func TestHealTagsOverageWithoutHold(t *testing.T) {
	f := newHoldsFixture(t, true)
	a, err := f.svc.CreateAccount(ctx, "", "Acme", []string{"people-10"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.Submit(ctx, a.ID, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 12, OnInsufficient: credit.Overage})
	if err != nil {
		t.Fatal(err)
	}
	if j.Meta.OverageReserved != 2 {
		t.Fatalf("overage reserved %d, want 2", j.Meta.OverageReserved)
	}
	if _, err := f.svc.Start(ctx, a.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	key := storage.ResultKey(a.ID, j.ID, 1, jobs.CSV)
	n, err := f.local.Put(ctx, key, strings.NewReader("id\nper_1\n"), storage.PutOptions{
		ContentType: "text/csv", Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}})
	if err != nil {
		t.Fatal(err)
	}
	// 8 delivered: within the prepaid 10, so no hold.
	j, err = f.svc.Complete(ctx, a.ID, j.ID, jobs.Outcome{Found: 8, Delivered: 8,
		Results: []jobs.ResultFile{{Key: key, Format: jobs.CSV, Records: 8, Bytes: n}}})
	if err != nil || j.HoldID != "" {
		t.Fatalf("complete: %+v, %v; want no hold", j, err)
	}
	f.objects.fail(true)
	if n, err := f.svc.HealTags(ctx, time.Now().Add(-time.Hour)); n != 0 || !errors.Is(err, errStorageDown) {
		t.Fatalf("HealTags with storage down: %d, %v", n, err)
	}
	f.objects.fail(false)
	if n, err := f.svc.HealTags(ctx, time.Now().Add(-time.Hour)); n != 1 || err != nil {
		t.Fatalf("HealTags: %d, %v; want 1 object healed", n, err)
	}
	if got := f.tags(t, j); !cmp.Equal(got, []string{storage.HoldNone}) {
		t.Fatalf("tags after healing %v, want none", got)
	}
	if n, err := f.svc.HealTags(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("HealTags again: %d, %v; want nothing to heal", n, err)
	}
	ledgertest.CheckAccount(t, f.l, a.ID)
}
