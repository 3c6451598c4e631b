package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		query string
		tree  string
	}{
		{"empty", "", "*"},
		{"blank", " \t\n", "*"},
		{"star", "*", "*"},
		{"star star", "*:*", "*"},
		{"term", "city:Austin", "city:Austin"},
		{"space after colon", "city: Austin", "city:Austin"},
		{"phrase", `name:"John Smith"`, `name:"John Smith"`},
		{"phrase with escapes", `name:"say \"hi\" \\ bye"`, `name:"say \"hi\" \\ bye"`},
		{"prefix", "name:jo*", "name:jo*"},
		{"exists", "email:*", "email:*"},
		{"inclusive range", "price:[100 TO 200]", "price:[100 TO 200]"},
		{"exclusive range", "price:{100 TO 200}", "price:{100 TO 200}"},
		{"mixed range", "price:[100 TO 200}", "price:[100 TO 200}"},
		{"open range", "price:[* TO 200]", "price:[* TO 200]"},
		{"date range with colons", "listedAt:[2024-01-01T00:00:00Z TO *]", "listedAt:[2024-01-01T00:00:00Z TO *]"},
		{"quoted range bound", `name:["a b" TO "*"]`, `name:["a b" TO "*"]`},
		{"dotted path", `brokers.agent:"Ryana Stevson"`, `brokers.agent:"Ryana Stevson"`},
		{"and", "a:1 AND b:2", "(a:1 AND b:2)"},
		{"juxtaposition", "a:1 b:2", "(a:1 AND b:2)"},
		{"or", "a:1 OR b:2", "(a:1 OR b:2)"},
		{"and binds tighter than or", "a:1 OR b:2 AND c:3", "(a:1 OR (b:2 AND c:3))"},
		{"and binds tighter than or, left", "a:1 b:2 OR c:3", "((a:1 AND b:2) OR c:3)"},
		{"not", "NOT a:1", "NOT a:1"},
		{"minus", "-a:1", "NOT a:1"},
		{"plus", "+a:1 +b:2", "(a:1 AND b:2)"},
		{"minus in and", "a:1 -b:2", "(a:1 AND NOT b:2)"},
		{"double negation", "NOT -a:1", "NOT NOT a:1"},
		{"not group", "NOT (a:1 OR b:2)", "NOT (a:1 OR b:2)"},
		{"groups flatten", "(a:1 AND b:2) AND (c:3 AND d:4)", "(a:1 AND b:2 AND c:3 AND d:4)"},
		{"or groups flatten", "(a:1 OR b:2) OR c:3", "(a:1 OR b:2 OR c:3)"},
		{"redundant parentheses", "((a:1))", "a:1"},
		{"parentheses without spaces", "(a:1)(b:2)", "(a:1 AND b:2)"},
		{"vendor example", `address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744)`,
			`(address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744))`},
		{"escapes in a value", `email:a\:b\ c`, `email:a\:b\ c`},
		{"escaped star", `sku:ab\*`, `sku:ab\*`},
		{"punctuation in a value", "email:jo.smith@example.com", "email:jo.smith@example.com"},
		{"negative number", "lng:-97.74", "lng:-97.74"},
		{"keyword as a value", "word:AND", "word:AND"},
		{"keyword-like field", "NOT:x ORacle:y", "(NOT:x AND ORacle:y)"},
		{"lower-case words are values", "title:and", "title:and"},
		{"star in an expression", "* AND NOT a:1", "(* AND NOT a:1)"},
		{"unicode", "city:Montréal", "city:Montréal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse(tt.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.query, err)
			}
			if got := n.String(); got != tt.tree {
				t.Errorf("Parse(%q) = %s, want %s", tt.query, got, tt.tree)
			}
		})
	}
}

// TestParseTree checks the node types, fields and positions of one query.
func TestParseTree(t *testing.T) {
	q := `address:"4801 Yucca Hl Dr" AND -province:TX (city:Aus* OR price:{1 TO *] OR email:*)`
	got, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	want := &And{At: 0, Clauses: []Node{
		&Term{At: 0, Field: "address", Value: "4801 Yucca Hl Dr", Phrase: true},
		&Not{At: 31, Clause: &Term{At: 32, Field: "province", Value: "TX"}},
		&Or{At: 45, Clauses: []Node{
			&Term{At: 45, Field: "city", Value: "Aus", Prefix: true},
			&Range{At: 58, Field: "price", Low: Bound{Value: "1"}, High: Bound{Unbounded: true, Inclusive: true}},
			&Exists{At: 76, Field: "email"},
		}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(%q) (-want +got):\n%s", q, diff)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		query string
		pos   int
		msg   string // a part of the message
	}{
		{"Austin", 6, `expected ':' after "Austin"`},
		{"city Austin", 4, `expected ':' after "city"`},
		{"city:", 5, `expected a value after "city:"`},
		{"city: AND x:1", 6, `expected a value after "city:"`},
		{"city:)", 5, `expected a value after "city:"`},
		{`name:"John`, 5, "unterminated phrase"},
		{`"John Smith"`, 0, "a phrase needs a field"},
		{"[1 TO 2]", 0, "a range needs a field"},
		{"price:[1 TO 2", 13, "unterminated range"},
		{"price:[1 2]", 9, "expected TO"},
		{"price:[1 TO]", 11, "expected an upper bound after TO"},
		{"price:[ TO 2]", 8, "expected a lower bound before TO"},
		{"price:[1 TO 2)", 14, "unterminated range: expected ']' or '}'"},
		{"price:[1 TO 2]x", 14, `unexpected 'x'`},
		{"a:1 AND", 7, "expected a clause, found the end"},
		{"a:1 OR", 6, "expected a clause, found the end"},
		{"AND a:1", 0, "expected a clause before AND"},
		{"a:1 OR OR b:2", 7, "expected a clause before OR"},
		{"a:1 and b:2", 4, "operators are upper case: write AND"},
		{"(a:1", 4, "missing ')' to close the '(' at position 0"},
		{"a:1)", 3, "unmatched ')'"},
		{"()", 0, "empty parentheses"},
		{"- a:1", 0, "expected a clause right after '-'"},
		{"NOT", 3, "expected a clause, found the end"},
		{"name:j*n", 6, "'*' is only supported at the end"},
		{"name:*son", 5, "a value cannot start with '*'"},
		{"name:jo?n", 7, "'?' wildcards are not supported"},
		{"name:john~2", 9, "fuzzy and proximity searches"},
		{"name:john^2", 9, "boosts"},
		{"time:10:30", 7, "unexpected ':' in a value"},
		{"na*me:x", 2, "wildcards are not supported in field names"},
		{"jo*", 2, `expected ':' after "jo"`},
		{"*jo", 0, "'*' alone matches everything"},
		{`name:"x"*`, 8, "a phrase cannot end with '*'"},
		{"city:(a OR b)", 5, "a group after a field is not supported"},
		{"city:---", 5, `the value "---" has no letters or digits`},
		{`name:" "`, 5, "has no letters or digits"},
		{`a:b\`, 3, "escapes nothing"},
		{":x", 0, `unexpected ':'`},
		{"a:1 ]", 4, `unexpected ']'`},
		{strings.Repeat("(", 65) + "a:1" + strings.Repeat(")", 65), 64, "nests deeper than 64"},
		{strings.Repeat("NOT ", 65) + "a:1", 256, "nests deeper than 64"},
		{strings.Repeat("a:1 ", 1025), 4096, "more than 1024 clauses"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.query)
		se, ok := errors.AsType[*SyntaxError](err)
		if !ok {
			t.Errorf("Parse(%.50q) = %v, %v; want a *SyntaxError", tt.query, n, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%.50q) error at %d %q, want at %d containing %q", tt.query, se.Pos, se.Msg, tt.pos, tt.msg)
		}
		if !strings.Contains(se.Error(), "position") {
			t.Errorf("error %q does not name the position", se.Error())
		}
	}
}

// FuzzParse checks that Parse never panics, that errors are *SyntaxError with
// a position inside the query, that the canonical form of an accepted query
// parses back to itself, and that Cost never panics and behaves.
func FuzzParse(f *testing.F) {
	for _, q := range []string{
		`address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744)`,
		"a:1 OR b:2 c:3", "-a:1 +b:[1 TO *}", `name:jo* email:* x:"\"q\""`, `brokers.agent:"Ryana Stevson"`,
		`a\ b:c\:d`, "NOT (a:1 OR NOT b:2)", "*:*", `p:["a b" TO "*"]`, "((((a:1))))", "x:[a\\] TO b]",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", q, err)
			}
			if se.Pos < 0 || se.Pos > len(q) {
				t.Fatalf("Parse(%q) error position %d outside [0, %d]", q, se.Pos, len(q))
			}
			return
		}
		s := n.String()
		n2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", q, s, err)
		}
		if s2 := n2.String(); s2 != s {
			t.Fatalf("Parse(%q) = %s, which parses to %s", q, s, s2)
		}
		// Cost never panics, counts at least one unit, is the same for the
		// canonical form, and grows when the query gets a NOT.
		c := Cost(n)
		if c < 1 || Cost(n2) != c {
			t.Fatalf("Cost(%q) = %d, Cost of its canonical form %d", q, c, Cost(n2))
		}
		if c > 10*len(q)+10 {
			t.Fatalf("Cost(%q) = %d, more than ten times the query's length", q, c)
		}
		if m := Cost(&Not{Clause: n}); m <= c {
			t.Fatalf("Cost(NOT %q) = %d, not more than %d", q, m, c)
		}
	})
}
