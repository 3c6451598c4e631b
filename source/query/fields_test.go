package query_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source/query"
)

// TestFields checks the fields a query names: each once, in order, with
// where it is first named, through NOT, AND and OR.
func TestFields(t *testing.T) {
	n, err := query.Parse(`city:Austin AND (NOT age:[1 TO 5] OR email:*) -city:Dallas address.zip:"7 8"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []query.FieldRef{{Field: "city", At: 0}, {Field: "age", At: 21}, {Field: "email", At: 37}, {Field: "address.zip", At: 59}}
	if diff := cmp.Diff(want, query.Fields(n)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	all, err := query.Parse("*")
	if err != nil {
		t.Fatal(err)
	}
	if got := query.Fields(all); len(got) != 0 {
		t.Errorf("* names %v, want no fields", got)
	}
}
