package client_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestOptions sends through the given *http.Client with the given
// User-Agent, and refuses a base URL that is not absolute.
func TestOptions(t *testing.T) {
	s := newStack(t)
	var agents []string
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		agents = append(agents, r.Header.Get("User-Agent"))
		next.ServeHTTP(w, r)
	})
	tr := &countingTransport{}
	c, err := client.New(s.url+"/", s.adminKey, client.WithHTTPClient(&http.Client{Transport: tr}), client.WithUserAgent("acme-sync/2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListHolds(t.Context(), client.HoldsQuery{}); err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() != 1 || !slices.Equal(agents, []string{"acme-sync/2"}) {
		t.Fatalf("%d requests through the transport, agents %q", tr.n.Load(), agents)
	}
	for _, bad := range []string{"", "creditrun.example.com", "ftp://h", "http://"} {
		if _, err := client.New(bad, "k"); err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Errorf("New(%q): %v, want an error about the base URL", bad, err)
		}
	}
}

// TestPaging walks jobs and the journal a small page at a time.
func TestPaging(t *testing.T) {
	s := newStack(t)
	account, c, _ := s.account(t, "people-1k-99")
	ctx := t.Context()
	var ids []string
	for range 3 {
		sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 2})
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{sub.Job.ID}, ids...) // newest first
	}
	var pages int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/v1/jobs" {
			pages++
		}
		next.ServeHTTP(w, r)
	})
	var got []string
	for j, err := range c.AllJobs(ctx, client.JobsQuery{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, j.ID)
	}
	if !slices.Equal(got, ids) || pages < 3 {
		t.Fatalf("jobs %v in %d pages, want %v a page each", got, pages, ids)
	}
	for j, err := range c.AllJobs(ctx, client.JobsQuery{Limit: 1}) {
		if err != nil || j.ID != ids[0] {
			t.Fatalf("a second range starts at %s (%v), want %s", j.ID, err, ids[0])
		}
		break
	}

	all, err := c.Ledger(ctx, client.LedgerQuery{Limit: 1000})
	if err != nil || all.NextCursor != "" {
		t.Fatalf("journal: %+v, %v", all, err)
	}
	var seqs []int64
	for e, err := range c.AllEntries(ctx, client.LedgerQuery{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
	}
	var want []int64
	for _, e := range all.Entries {
		want = append(want, e.Seq)
	}
	if len(want) < 4 || !slices.Equal(seqs, want) {
		t.Fatalf("entries by pages of 2: %v, want %v", seqs, want)
	}

	if _, err := c.Ledger(ctx, client.LedgerQuery{Cursor: "nonsense"}); err == nil {
		t.Fatal("a bad cursor was taken")
	} else if e, ok := errors.AsType[*client.Error](err); !ok || e.Field() != "cursor" {
		t.Fatalf("bad cursor: %v, want a 400 about cursor", err)
	}
	s.check(t, account)
}
