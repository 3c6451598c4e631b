package query

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// orList joins n clauses made by clause(i) with OR.
func orList(n int, clause func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = clause(i)
	}
	return strings.Join(parts, " OR ")
}

func mustCost(t *testing.T, q string) int {
	t.Helper()
	n, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%.60q): %v", q, err)
	}
	return Cost(n)
}

func TestCost(t *testing.T) {
	tests := []struct {
		name  string
		query string
		cost  int
	}{
		{"everything", "", 1},
		{"star", "*", 1},
		{"word", "city:Austin", 1},
		{"phrase", `name:"John Smith"`, 2 + 8},
		{"unquoted value of several words", "email:jo.smith@example.com", 4 + 8},
		{"one-word phrase", `city:"Austin"`, 1},
		{"an id is one word", "id:per_00000001", 1},
		{"an id prefix", "id:per_0*", 1 + 4},
		{"prefix", "name:jo*", 1 + 4},
		{"prefix of a phrase", `name:john\ sm*`, 2 + 8 + 4},
		{"exists", "email:*", 2},
		{"range", "price:[100 TO 200]", 4},
		{"not", "-city:Austin", 2},
		{"double not", "NOT NOT city:Austin", 3},
		{"and", "a:1 AND b:2", 4},
		{"or", "a:1 OR b:2 OR c:3", 6},
		{"nested", "a:1 AND (b:2 OR c:3)", 2 + 1 + 4},
		{"vendor example", `address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744)`, (1 + 4 + 8) + (1 + 1) + (1 + 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustCost(t, tt.query); got != tt.cost {
				t.Errorf("Cost(%s) = %d, want %d", tt.query, got, tt.cost)
			}
		})
	}
}

// TestCostBound holds MaxCost to its promise: realistic queries, even long
// ones, pass; the query built to keep a worker busy does not, with a message
// that says the limit and the query's cost.
func TestCostBound(t *testing.T) {
	pass := map[string]string{
		"1,024 postal codes":             orList(MaxClauses, func(i int) string { return fmt.Sprintf("postalCode:%05d", i) }),
		"1,024 prefixes":                 orList(MaxClauses, func(i int) string { return fmt.Sprintf("postalCode:%03d*", i) }),
		"1,024 ranges":                   orList(MaxClauses, func(i int) string { return fmt.Sprintf("price:[%d TO %d]", i, i+10) }),
		"an exclusion list of 1,023 ids": "* " + strings.Repeat("NOT id:per_00000001 ", MaxClauses-1),
		"1,024 negated prefixes":         strings.Repeat("-name:jo* ", MaxClauses),
		"500 email addresses":            orList(500, func(i int) string { return fmt.Sprintf("email:someone.%d@example.com", i) }),
		"600 names":                      orList(600, func(i int) string { return fmt.Sprintf(`name:"John Smith%d"`, i) }),
		"64 levels of nesting":           strings.Repeat("NOT (a:1 OR ", 32) + "b:2" + strings.Repeat(")", 32),
		"every field kind":               `address:"4801 Yucca Hl Dr" AND province:TX AND (city:Aus* OR price:{1 TO *] OR email:*) -name:"John Smith"`,
	}
	for name, q := range pass {
		n, err := Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := CheckCost(n); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	busy := "NOT (" + orList(MaxClauses-1, func(int) string { return `email:"gmail com"` }) + " OR name:*)"
	n, err := Parse(busy)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckCost(n)
	ce, ok := errors.AsType[*CostError](err)
	if !ok || ce.Cost != Cost(n) || ce.Cost <= MaxCost {
		t.Fatalf("CheckCost of 1,023 phrases: %v, want a *CostError over %d", err, MaxCost)
	}
	for _, want := range []string{strconv.Itoa(ce.Cost), strconv.Itoa(MaxCost), "phrase"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}

// TestCostOfKnownQueries checks that every query the parser's tests and its
// fuzz corpus accept is within MaxCost, so the bound refuses nothing that
// worked before.
func TestCostOfKnownQueries(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("the fuzz corpus: %v, %d files", err, len(files))
	}
	var queries []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(line, "string("); ok {
				q, err := strconv.Unquote(strings.TrimSuffix(s, ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				queries = append(queries, q)
			}
		}
	}
	queries = append(queries, strings.Repeat("a:1 ", MaxClauses), strings.Repeat("(", MaxDepth)+"a:1"+strings.Repeat(")", MaxDepth))
	for _, q := range queries {
		n, err := Parse(q)
		if err != nil {
			continue
		}
		if err := CheckCost(n); err != nil {
			t.Errorf("%.60q: %v", q, err)
		}
	}
}

// TestCostMonotone checks on many shapes that adding to a query never makes
// it cheaper: a clause in an AND or an OR, a NOT, a word, a prefix.
func TestCostMonotone(t *testing.T) {
	base := []string{
		"", "*", "a:1", `a:"x y"`, "a:x*", "a:*", "a:[1 TO 2]", "NOT a:1", "a:1 b:2", "a:1 OR b:2",
		`(a:1 OR b:2) AND NOT (c:"x y z" OR d:e*)`, "a:1 OR (b:2 AND (c:3 OR d:4))",
	}
	for _, q := range base {
		c := mustCost(t, q)
		if c < 1 {
			t.Errorf("Cost(%q) = %d, want at least 1", q, c)
		}
		for _, more := range []string{"(" + q + ") AND z:9", "(" + q + ") OR z:9", "z:9 (" + q + ")", "NOT (" + q + ")", "(" + q + ") OR z:\"a b\""} {
			if q == "" {
				continue
			}
			if m := mustCost(t, more); m <= c {
				t.Errorf("Cost(%q) = %d, not more than Cost(%q) = %d", more, m, q, c)
			}
		}
	}
	for _, pair := range [][2]string{
		{"a:x", "a:x*"}, {"a:x", `a:"x y"`}, {`a:"x y"`, `a:"x y z"`}, {`a:"x y"`, `a:x\ y*`}, {"a:x", "a:[x TO y]"}, {"a:x", "a:*"},
	} {
		if lo, hi := mustCost(t, pair[0]), mustCost(t, pair[1]); lo >= hi {
			t.Errorf("Cost(%s) = %d, not less than Cost(%s) = %d", pair[0], lo, pair[1], hi)
		}
	}
}
