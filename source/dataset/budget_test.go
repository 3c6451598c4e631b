package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

// generated opens a generated dataset of n people with opts.
func generated(t *testing.T, n int, opts Options) *Dataset {
	t.Helper()
	dir := t.TempDir()
	if _, err := Generate(t.Context(), GenerateConfig{Dir: dir, People: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := OpenWith(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// steps evaluates q on the people of d without a budget and returns the
// steps it took and what it found.
func steps(t *testing.T, d *Dataset, q string) (int64, int) {
	t.Helper()
	n, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	tb := d.tables[source.People]
	e := newEvaluator(t.Context(), tb, 0)
	set, err := e.eval(n, allDocs(tb.n))
	if err != nil {
		t.Fatal(err)
	}
	return e.b.used, set.count()
}

// busyQuery is a query that matches nothing and reads about every record
// once per phrase.
func busyQuery(phrases int) string {
	return "NOT (" + strings.Repeat(`email:"gmail com" OR `, phrases) + "name:*)"
}

func TestSearchBudget(t *testing.T) {
	free := generated(t, 500, Options{MaxSearchSteps: -1})
	for name, q := range map[string]string{
		"phrase or prefix": `email:"gmail com" OR name:jo*`, "busy": busyQuery(20), "word": "email:com", "not": "NOT email:com",
	} {
		used, found := steps(t, free, q)
		if again, _ := steps(t, free, q); again != used {
			t.Fatalf("%s: %d steps, then %d: not deterministic", q, used, again)
		}
		if used == 0 {
			t.Fatalf("%s: no steps counted", q)
		}
		t.Run(name, func(t *testing.T) {
			// A budget of exactly the steps the query takes lets it run.
			d := generated(t, 500, Options{MaxSearchSteps: used})
			res, err := d.Search(t.Context(), source.People, q, 0)
			if err != nil || res.Found != found {
				t.Fatalf("with a budget of %d steps: found %d, %v; want %d", used, res.Found, err, found)
			}
			// One step less stops it.
			d = generated(t, 500, Options{MaxSearchSteps: used - 1})
			_, err = d.Search(t.Context(), source.People, q, 0)
			be, ok := errors.AsType[*source.BudgetError](err)
			if !ok || be.Steps != used-1 {
				t.Fatalf("with a budget of %d steps: %v, want a *source.BudgetError of %d steps", used-1, err, used-1)
			}
		})
	}
}

// TestSearchBudgetStopsEarly checks that a search over its budget stops soon
// after it is spent, not at the end of the query.
func TestSearchBudgetStopsEarly(t *testing.T) {
	d := generated(t, 2000, Options{MaxSearchSteps: -1})
	q := busyQuery(200)
	all, found := steps(t, d, q)
	if found != 0 {
		t.Fatalf("the busy query found %d", found)
	}
	one, _ := steps(t, d, busyQuery(1))
	limit := all / 10
	n, _ := query.Parse(q)
	tb := d.tables[source.People]
	e := newEvaluator(t.Context(), tb, limit)
	if _, err := e.eval(n, allDocs(tb.n)); !errors.As(err, new(*source.BudgetError)) {
		t.Fatalf("eval with a budget of %d of its %d steps: %v", limit, all, err)
	}
	if e.b.used > limit+one {
		t.Fatalf("stopped after %d steps, more than the budget %d and one phrase (%d)", e.b.used, limit, one)
	}
}

func TestSearchBudgetDefault(t *testing.T) {
	if d := generated(t, 5, Options{}); d.maxSteps != DefaultMaxSearchSteps {
		t.Errorf("default budget %d, want %d", d.maxSteps, int64(DefaultMaxSearchSteps))
	}
	if d := generated(t, 5, Options{MaxSearchSteps: -1}); d.maxSteps != 0 {
		t.Errorf("a negative budget: %d, want 0 (no limit)", d.maxSteps)
	}
}
