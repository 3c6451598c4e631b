package credit_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger/credit"
)

func TestSplit(t *testing.T) {
	type out struct {
		prepaid, overage    int64
		required, available int64 // of the 402
	}
	tests := []struct {
		name                  string
		policy                credit.Policy
		need, avail, headroom int64
		want                  out
	}{
		{"reject enough", credit.Reject, 30, 100, 50, out{prepaid: 30}},
		{"reject exact", credit.Reject, 100, 100, 0, out{prepaid: 100}},
		{"reject short", credit.Reject, 50, 25, 100, out{required: 50, available: 25}},
		{"reject zero", credit.Reject, 1, 0, 0, out{required: 1, available: 0}},
		{"partial enough", credit.Partial, 30, 100, 0, out{prepaid: 30}},
		{"partial short", credit.Partial, 10, 3, 0, out{prepaid: 3}},
		{"partial zero", credit.Partial, 10, 0, 50, out{required: 10, available: 0}},
		{"overage enough", credit.Overage, 30, 100, 50, out{prepaid: 30}},
		{"overage within", credit.Overage, 150, 100, 50, out{prepaid: 100, overage: 50}},
		{"overage beyond", credit.Overage, 151, 100, 50, out{required: 151, available: 150}},
		{"overage from zero", credit.Overage, 10, 0, 50, out{overage: 10}},
		{"overage disabled", credit.Overage, 10, 5, 0, out{required: 10, available: 5}},
		{"nothing needed", credit.Reject, 0, 0, 0, out{}},
		{"negative available counts as none", credit.Partial, 5, -3, 0, out{required: 5, available: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp, op, err := credit.Split(tt.policy, tt.need, tt.avail, tt.headroom)
			var got out
			if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
				got = out{required: ie.Required, available: ie.Available}
			} else if err != nil {
				t.Fatal(err)
			} else {
				got = out{prepaid: pp, overage: op}
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, _, err := credit.Split("sometimes", 1, 1, 1); !errors.Is(err, credit.ErrInvalidPolicy) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestInsufficientMessage(t *testing.T) {
	err := &credit.InsufficientError{Pool: "people", Required: 50, Available: 25}
	if got := err.Error(); got != "Not enough credits. Required: 50, Available: 25" {
		t.Fatal(got)
	}
}

func TestChooseItems(t *testing.T) {
	charged := func(id string) bool { return id == "old" }
	tests := []struct {
		name     string
		ids      []string
		dedup    bool
		capacity int64
		want     credit.Items
		need     int64
	}{
		{"all fit", []string{"a", "b"}, false, 2, credit.Items{Kept: []bool{true, true}, Processed: 2}, 2},
		{"first ones kept", []string{"a", "b", "c"}, false, 2, credit.Items{Kept: []bool{true, true, false}, Processed: 2}, 3},
		{"no dedup charges repeats", []string{"a", "a", "old"}, false, 3, credit.Items{Kept: []bool{true, true, true}, Processed: 3}, 3},
		{"charged and repeated are free", []string{"old", "a", "a", ""}, true, 2,
			credit.Items{Kept: []bool{true, true, true, true}, Skipped: 2, Processed: 4}, 2},
		{"unknown ids are never free", []string{"", ""}, true, 1, credit.Items{Kept: []bool{true, false}, Processed: 1}, 2},
		{"repeat of a dropped item is dropped", []string{"a", "b", "b"}, true, 1,
			credit.Items{Kept: []bool{true, false, false}, Skipped: 1, Processed: 1}, 2},
		{"nothing", nil, true, 0, credit.Items{Kept: []bool{}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if need := credit.CountChargeable(tt.ids, tt.dedup, charged); need != tt.need {
				t.Fatalf("need %d, want %d", need, tt.need)
			}
			got := credit.ChooseItems(tt.ids, tt.dedup, charged, tt.capacity)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	tests := []struct {
		name                   string
		prepaid, overage, cost int64
		want                   credit.Settlement
	}{
		{"all prepaid", 10, 0, 1, credit.Settlement{Cost: 1, PrepaidPosted: 1, Released: 9}},
		{"nothing", 10, 5, 0, credit.Settlement{Released: 15}},
		{"into overage", 99, 31, 120, credit.Settlement{Cost: 120, PrepaidPosted: 99, OveragePosted: 21, Released: 10}},
		{"all of it", 3, 4, 7, credit.Settlement{Cost: 7, PrepaidPosted: 3, OveragePosted: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := credit.Settle(tt.prepaid, tt.overage, tt.cost)
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if got.Cost+got.Released != tt.prepaid+tt.overage {
				t.Fatal("I2 broken")
			}
		})
	}
	for _, cost := range []int64{-1, 8} {
		if _, err := credit.Settle(3, 4, cost); !errors.Is(err, credit.ErrCostExceedsReserved) {
			t.Fatalf("cost %d: %v", cost, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, id := range []string{"acme", "job_01H", "a-b_c.d", strings.Repeat("x", credit.MaxIDLen)} {
		if err := credit.CheckID("job", id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "a{b", "a}b", "a:b", "a b", "a\tb", "a\nb", "\x00", "\xff", strings.Repeat("x", credit.MaxIDLen+1)} {
		if err := credit.CheckID("job", id); !errors.Is(err, credit.ErrInvalidID) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"acme", "a{b", "", "a b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := credit.CheckID("x", id)
		if err != nil {
			if !errors.Is(err, credit.ErrInvalidID) {
				t.Fatalf("%q: untyped error %v", id, err)
			}
			return
		}
		if id == "" || len(id) > credit.MaxIDLen || !utf8.ValidString(id) {
			t.Fatalf("%q accepted", id)
		}
		for _, r := range id {
			if r == '{' || r == '}' || r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) {
				t.Fatalf("%q accepted with %q", id, r)
			}
		}
	})
}

func TestReplay(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.AddDate(0, 1, 0)
	entries := []credit.Entry{
		{Seq: 1, Type: credit.EntryGrant, Pool: "p", Amount: 100, AvailableAfter: 100, Delta: credit.Counts{Allocated: 100}, PeriodStart: t0, PeriodEnd: t1},
		{Seq: 2, Type: credit.EntryReserve, Pool: "p", Amount: 30, AvailableAfter: 70, Delta: credit.Counts{Reserved: 30}},
		{Seq: 3, Type: credit.EntryPost, Pool: "p", Amount: 20, AvailableAfter: 70, Delta: credit.Counts{Used: 20, Reserved: -20}},
		{Seq: 4, Type: credit.EntryRelease, Pool: "p", Amount: 10, AvailableAfter: 80, Delta: credit.Counts{Reserved: -10}},
		{Seq: 5, Type: credit.EntryRefresh, Pool: "p", Amount: 100, AvailableAfter: 100, Delta: credit.Counts{Used: -20}, PeriodStart: t1, PeriodEnd: t1.AddDate(0, 1, 0)},
	}
	got, err := credit.Replay(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]credit.Balance{"p": {Counts: credit.Counts{Allocated: 100}, PeriodStart: t1, PeriodEnd: t1.AddDate(0, 1, 0)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	bad := map[string][]credit.Entry{
		"seq gap":         {entries[0], entries[2]},
		"before grant":    {{Seq: 1, Type: credit.EntryReserve, Pool: "p"}},
		"wrong available": {entries[0], {Seq: 2, Type: credit.EntryReserve, Pool: "p", AvailableAfter: 71, Delta: credit.Counts{Reserved: 30}}},
	}
	for name, es := range bad {
		if _, err := credit.Replay(es); err == nil {
			t.Errorf("%s: replayed", name)
		}
	}
}

func TestCheckCounts(t *testing.T) {
	ok := credit.Counts{Allocated: 10, Used: 5, Reserved: 5, OverageReserved: 3, OverageOutstanding: 7}
	if err := credit.CheckCounts("a", "p", true, 10, ok); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]credit.Counts{
		"negative available": {Allocated: 10, Used: 6, Reserved: 5},
		"negative count":     {Allocated: 10, Reserved: -1},
		"over the limit":     {Allocated: 10, OverageReserved: 4, OverageOutstanding: 7},
	} {
		if err := credit.CheckCounts("a", "p", true, 10, c); err == nil {
			t.Errorf("%s passed", name)
		}
	}
}
