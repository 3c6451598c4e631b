package dataset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

func openFixture(t testing.TB) *Dataset {
	t.Helper()
	d, err := Open(t.Context(), "testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// searchIDs runs a search and collects the ids it streams.
func searchIDs(t *testing.T, d *Dataset, dataType, q string, limit int) (int, []string) {
	t.Helper()
	res, err := d.Search(t.Context(), dataType, q, limit)
	if err != nil {
		t.Fatalf("Search(%s, %q): %v", dataType, q, err)
	}
	ids := []string{}
	for rec, err := range res.Records {
		if err != nil {
			t.Fatalf("Search(%s, %q) stream: %v", dataType, q, err)
		}
		ids = append(ids, rec.ID)
	}
	return res.Found, ids
}

func TestSearch(t *testing.T) {
	d := openFixture(t)
	tests := []struct {
		name     string
		dataType string
		query    string
		want     []string
	}{
		// The vendor's example: prop_3 is in CA, prop_4 has the words out of
		// order, prop_5 has another address, prop_6 is in Dallas 75201.
		{"vendor example", "properties", `address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744)`, []string{"prop_1", "prop_2"}},

		{"everything, empty query", "people", "", []string{"per_01", "per_02", "per_03", "per_04", "per_05", "per_06"}},
		{"everything, star", "businesses", "*", []string{"biz_003", "biz_001", "biz_002", "biz_010", "biz_004"}},
		{"everything, star star", "products", "*:*", []string{"prod_1", "prod_2", "prod_3"}},

		{"term", "people", "city:Dallas", []string{"per_02"}},
		{"term is case-insensitive", "people", "city:aUSTIN", []string{"per_01", "per_03", "per_06"}},
		{"term is a word of the value", "people", "name:smith", []string{"per_01", "per_04"}},
		{"term of a number", "people", "age:41", []string{"per_01"}},
		{"a number is one word", "people", "age:41.5", []string{"per_04"}},
		{"negative number", "people", "age:-3", []string{"per_06"}},
		{"decimal term equals numbers and decimal strings", "businesses", "postalCode:78704", []string{"biz_010"}},
		{"decimal term matches words too", "people", "phone:0199", []string{"per_01"}},
		{"prefix of a number", "properties", "price:42*", []string{"prop_1"}},
		{"term of a boolean", "properties", "features.pool:true", []string{"prop_7"}},
		{"term splits like the index", "people", "email:john.smith@example.com", []string{"per_01"}},
		{"term with punctuation", "people", "phone:555-0199", []string{"per_01"}},
		{"unicode term", "people", "city:montréal", []string{"per_05"}},
		{"unicode term, case", "people", "name:ÁLVAREZ", []string{"per_05"}},
		{"unknown field", "people", "nickname:john", []string{}},
		{"unknown word", "people", "city:Paris", []string{}},

		{"phrase", "people", `name:"John Smith"`, []string{"per_01"}},
		{"phrase needs the order", "people", `name:"smith john"`, []string{"per_04"}},
		{"phrase of one word", "people", `city:"Austin"`, []string{"per_01", "per_03", "per_06"}},
		{"phrase with punctuation", "properties", `brokers.phones:"512-555-0101"`, []string{"prop_1", "prop_4"}},
		{"phrase stays inside one array element", "businesses", `categories:"coffee tea"`, []string{"biz_002"}},
		{"phrase in a later element", "properties", `brokers.agent:"bob stevson"`, []string{"prop_2"}},

		{"prefix", "people", "name:jo*", []string{"per_01", "per_03", "per_04", "per_05"}},
		{"prefix of a whole word", "people", "name:john*", []string{"per_01", "per_03", "per_04"}},
		{"prefix as the end of a phrase", "people", "email:john.sm*", []string{"per_01"}},
		{"prefix matching nothing", "people", "name:zz*", []string{}},

		{"exists", "people", "employer:*", []string{"per_01", "per_03", "per_04"}},
		{"exists skips missing, null and empty", "people", "NOT employer:*", []string{"per_02", "per_05", "per_06"}},
		{"exists under an object", "properties", "features:*", []string{"prop_7"}},
		{"exists of an array", "properties", "brokers.phones:*", []string{"prop_1", "prop_2", "prop_4", "prop_5", "prop_6"}},

		{"inclusive numeric range", "properties", "price:[310000 TO 500000]", []string{"prop_1", "prop_2", "prop_4"}},
		{"exclusive numeric range", "properties", "price:{310000 TO 500000}", []string{"prop_1"}},
		{"mixed range", "properties", "price:[310000 TO 500000}", []string{"prop_1", "prop_2"}},
		{"open low end", "properties", "price:[* TO 300000]", []string{"prop_5"}},
		{"open high end", "properties", "price:{500000 TO *]", []string{"prop_3", "prop_6"}},
		{"numbers compare as numbers", "people", "age:[9 TO 40]", []string{"per_02", "per_05"}},
		{"negative and fractional numbers", "people", "age:[-5 TO 0]", []string{"per_06"}},
		{"fractional bound", "people", "age:{41 TO 41.5]", []string{"per_04"}},
		{"decimal strings compare as numbers", "people", "postalCode:[78700 TO 78750}", []string{"per_01", "per_03"}},
		{"numbers in nested arrays", "products", "prices.amount:[100 TO 125]", []string{"prod_1"}},
		{"both ends open is exists", "properties", "price:[* TO *]", []string{"prop_1", "prop_2", "prop_3", "prop_4", "prop_5", "prop_6"}},
		{"date range", "properties", "listedAt:[2024-01-01 TO 2024-06-30]", []string{"prop_1", "prop_3", "prop_6"}},
		{"date-time range", "properties", "listedAt:[2024-01-01T00:00:00Z TO 2024-06-30T23:59:59Z]", []string{"prop_1", "prop_3", "prop_4", "prop_6"}},
		{"exclusive date range", "properties", "listedAt:{2024-01-01T00:00:00Z TO 2024-06-30T23:59:59Z}", []string{"prop_1", "prop_6"}},
		{"string range", "people", "birthDate:[1980-01-01 TO 1985-01-01}", []string{"per_01", "per_04"}},
		{"numeric bounds compare numbers only", "people", "birthDate:[1980 TO 1985]", []string{}},
		{"string range is case-insensitive", "people", "name:[a TO JANE]", []string{"per_06"}},
		{"string range, open end", "people", `name:{"Smith" TO *]`, []string{"per_04"}},

		{"and", "people", "city:Austin AND province:TX", []string{"per_01", "per_03", "per_06"}},
		{"juxtaposition is and", "people", "city:Austin name:john", []string{"per_01"}},
		{"or", "people", "city:Dallas OR city:Montréal", []string{"per_02", "per_05"}},
		{"and binds tighter than or", "people", "city:Dallas OR city:Austin AND name:john", []string{"per_01", "per_02"}},
		{"parentheses", "people", "(city:Dallas OR city:Austin) AND name:john", []string{"per_01"}},
		{"not", "people", "NOT province:TX", []string{"per_04", "per_05"}},
		{"minus", "people", "province:TX -city:Austin", []string{"per_02"}},
		{"not of a phrase", "people", `city:austin -name:"john smith"`, []string{"per_03", "per_06"}},
		{"not of a group", "people", "NOT (province:TX OR province:QC)", []string{"per_04"}},
		{"star and not", "people", "* AND NOT age:[0 TO *]", []string{"per_06"}},
		{"or of prefixes and ranges", "properties", "city:round* OR price:[1000000 TO *]", []string{"prop_2", "prop_6"}},

		{"id matches as written", "people", "id:per_03", []string{"per_03"}},
		{"id is exact", "people", "id:PER_03 OR id:per", []string{}},
		{"id prefix", "properties", "id:prop_* -id:prop_1", []string{"prop_2", "prop_3", "prop_4", "prop_5", "prop_6", "prop_7"}},
		{"id range", "people", "id:[per_02 TO per_04}", []string{"per_02", "per_03"}},
		{"id range, exclusive low", "people", "id:{per_02 TO *]", []string{"per_03", "per_04", "per_05", "per_06"}},
		{"id exists", "products", "id:*", []string{"prod_1", "prod_2", "prod_3"}},

		{"dotted path into an array of objects", "properties", `brokers.agent:"Ryana Stevson"`, []string{"prop_1", "prop_4", "prop_6"}},
		{"array matches when any element does", "properties", "brokers.company:keller", []string{"prop_2"}},
		{"path naming an object reaches inside", "properties", "brokers:stevson", []string{"prop_1", "prop_2", "prop_4", "prop_5", "prop_6"}},
		{"array of strings", "products", "categories:desks", []string{"prod_2"}},
		{"nested object", "properties", "features.garage:false", []string{"prop_7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, ids := searchIDs(t, d, tt.dataType, tt.query, 100)
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("Search(%s, %q) ids (-want +got):\n%s", tt.dataType, tt.query, diff)
			}
			if found != len(tt.want) {
				t.Errorf("Search(%s, %q) found %d, want %d", tt.dataType, tt.query, found, len(tt.want))
			}
		})
	}
}

func TestSearchLimit(t *testing.T) {
	d := openFixture(t)
	for _, tt := range []struct {
		limit int
		want  []string
	}{
		{0, []string{}},
		{-1, []string{}},
		{2, []string{"per_01", "per_03"}},
		{3, []string{"per_01", "per_03", "per_06"}},
		{10, []string{"per_01", "per_03", "per_06"}},
	} {
		found, ids := searchIDs(t, d, "people", "city:austin", tt.limit)
		if found != 3 {
			t.Errorf("limit %d: found %d, want 3 whatever the limit", tt.limit, found)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("limit %d: ids (-want +got):\n%s", tt.limit, diff)
		}
	}
}

func TestSearchRecord(t *testing.T) {
	d := openFixture(t)
	res, err := d.Search(t.Context(), "properties", "id:prop_2", 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []source.Record
	for rec, err := range res.Records {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	rec := got[0]
	// Raw is the line exactly as stored.
	if !strings.HasPrefix(string(rec.Raw), `{"id":"prop_2","address":"4801 Yucca Hl Dr"`) || !strings.HasSuffix(string(rec.Raw), `"phones":[]}]}`) {
		t.Errorf("Raw = %s", rec.Raw)
	}
	if diff := cmp.Diff([]any{"Ann Lee", "Bob Stevson"}, rec.Values("brokers.agent")); diff != "" {
		t.Errorf("Values(brokers.agent) (-want +got):\n%s", diff)
	}
	if v := rec.Values("price"); len(v) != 1 || v[0] != any(jsonNumber("310000")) {
		t.Errorf("Values(price) = %#v", v)
	}
	if v := rec.Values("nope.x"); v != nil {
		t.Errorf("Values(nope.x) = %#v, want nil", v)
	}
}

func TestSearchErrors(t *testing.T) {
	d := openFixture(t)
	_, err := d.Search(t.Context(), "cars", "*", 10)
	if !errors.Is(err, source.ErrUnknownDataType) || !strings.Contains(err.Error(), `"cars"`) {
		t.Errorf("unknown data type: %v", err)
	}
	_, err = d.Search(t.Context(), "people", "city:Austin AND", 10)
	se, ok := errors.AsType[*query.SyntaxError](err)
	if !ok || se.Pos != 15 {
		t.Errorf("bad query: %v, want a *query.SyntaxError at 15", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Search(ctx, "people", "*", 10); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled search: %v", err)
	}
}

func TestSearchStreamStopsOnCancel(t *testing.T) {
	d := openFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := d.Search(ctx, "people", "*", 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range res.Records {
		if err != nil {
			last = err
			break
		}
		n++
		cancel()
	}
	// ctx is looked at every ctxEvery records; the fixture is smaller.
	if n > ctxEvery || (n < res.Found && !errors.Is(last, context.Canceled)) {
		t.Errorf("streamed %d of %d after cancel, last error %v", n, res.Found, last)
	}
}
