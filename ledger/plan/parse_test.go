package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// apiExample is the plans file of API.md.
const apiExample = `
plans:
  people-1k-99:
    pool: people                    # the balance this plan fills
    data_types: [people]            # what draws from it
    operations: [search, download, enrichment]
    credits: 1000                   # grant per period
    refresh: "@monthly"             # cron spec (robfig/cron, UTC) of period boundaries
    on_insufficient: overage        # reject | partial | overage (the default of requests)
    overage: {enabled: true, limit: 100, price_cents: 10}
    enrichment_charge: matched      # matched | submitted (submitted posts at acceptance)
    dedup: [enrichment]             # operations where an already-charged record id is free
`

// ignoreSchedule leaves the parsed schedule out of comparisons; the period
// tests check it.
var ignoreSchedule = cmpopts.IgnoreFields(Plan{}, "Schedule")

// minimal returns a valid plan "x" with the given extra lines.
func minimal(extra ...string) string {
	lines := []string{
		"plans:",
		"  x:",
		"    pool: p",
		"    data_types: [people]",
		"    operations: [search]",
		"    credits: 10",
		`    refresh: "@monthly"`,
	}
	for _, e := range extra {
		lines = append(lines, "    "+e)
	}
	return strings.Join(lines, "\n") + "\n"
}

// without returns the plan of minimal without the line of field.
func without(field string) string {
	var out []string
	for line := range strings.SplitSeq(minimal(), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), field+":") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// replace returns the plan of minimal with field set to value.
func replace(field, value string) string {
	return strings.Replace(without(field), "  x:\n", "  x:\n    "+field+": "+value+"\n", 1)
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Plan
	}{
		{
			name: "API.md example",
			yaml: apiExample,
			want: []Plan{{
				ID:               "people-1k-99",
				Pool:             "people",
				DataTypes:        []DataType{DataTypePeople},
				Operations:       []Operation{OpSearch, OpDownload, OpEnrichment},
				Credits:          1000,
				Refresh:          "@monthly",
				OnInsufficient:   PolicyOverage,
				Overage:          Overage{Enabled: true, Limit: 100, PriceCents: 10},
				EnrichmentCharge: ChargeMatched,
				Dedup:            []Operation{OpEnrichment},
			}},
		},
		{
			name: "defaults: reject, matched, no overage, no dedup",
			yaml: minimal(),
			want: []Plan{{
				ID: "x", Pool: "p", DataTypes: []DataType{DataTypePeople}, Operations: []Operation{OpSearch},
				Credits: 10, Refresh: "@monthly", OnInsufficient: PolicyReject, EnrichmentCharge: ChargeMatched,
			}},
		},
		{
			name: "zero credits, five-field spec, partial with overage configured",
			yaml: strings.NewReplacer("credits: 10", "credits: 0", `"@monthly"`, `"0 0 1 * *"`).Replace(
				minimal("on_insufficient: partial", "overage: {enabled: true, limit: 0, price_cents: 0}")),
			want: []Plan{{
				ID: "x", Pool: "p", DataTypes: []DataType{DataTypePeople}, Operations: []Operation{OpSearch},
				Credits: 0, Refresh: "0 0 1 * *", OnInsufficient: PolicyPartial,
				Overage: Overage{Enabled: true}, EnrichmentCharge: ChargeMatched,
			}},
		},
		{
			name: "block-style overage, submitted enrichment, @every",
			yaml: `plans:
  e_1:
    pool: enhancement
    data_types: [people, properties, businesses, products]
    operations: [enrichment, download]
    credits: 5
    refresh: "@every 1h"
    on_insufficient: overage
    overage:
      enabled: true
      limit: 7
      price_cents: 3
    enrichment_charge: submitted
    dedup: [download, enrichment]
`,
			want: []Plan{{
				ID: "e_1", Pool: "enhancement",
				DataTypes:  []DataType{DataTypePeople, DataTypeProperties, DataTypeBusinesses, DataTypeProducts},
				Operations: []Operation{OpEnrichment, OpDownload}, Credits: 5, Refresh: "@every 1h",
				OnInsufficient: PolicyOverage, Overage: Overage{Enabled: true, Limit: 7, PriceCents: 3},
				EnrichmentCharge: ChargeSubmitted, Dedup: []Operation{OpDownload, OpEnrichment},
			}},
		},
		{
			name: "two plans fill one pool with different coverage, sorted by id",
			yaml: `plans:
  b:
    pool: people
    data_types: [people]
    operations: [search]
    credits: 1
    refresh: "@yearly"
  a:
    pool: people
    data_types: [people, businesses]
    operations: [search, download]
    credits: 2
    refresh: "@yearly"
`,
			want: []Plan{
				{
					ID: "a", Pool: "people", DataTypes: []DataType{DataTypePeople, DataTypeBusinesses},
					Operations: []Operation{OpSearch, OpDownload}, Credits: 2, Refresh: "@yearly",
					OnInsufficient: PolicyReject, EnrichmentCharge: ChargeMatched,
				},
				{
					ID: "b", Pool: "people", DataTypes: []DataType{DataTypePeople},
					Operations: []Operation{OpSearch}, Credits: 1, Refresh: "@yearly",
					OnInsufficient: PolicyReject, EnrichmentCharge: ChargeMatched,
				},
			},
		},
		{
			name: "id of 64 characters",
			yaml: strings.Replace(minimal(), "  x:", "  "+strings.Repeat("a", 64)+":", 1),
			want: []Plan{{
				ID: strings.Repeat("a", 64), Pool: "p", DataTypes: []DataType{DataTypePeople},
				Operations: []Operation{OpSearch}, Credits: 10, Refresh: "@monthly",
				OnInsufficient: PolicyReject, EnrichmentCharge: ChargeMatched,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tt.yaml)
			}
			if diff := cmp.Diff(tt.want, c.Plans(), ignoreSchedule, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("plans (-want +got):\n%s", diff)
			}
			for _, p := range c.Plans() {
				if p.Schedule == nil {
					t.Errorf("plan %q has no schedule", p.ID)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	type where struct{ plan, field string }
	tests := []struct {
		name string
		yaml string
		// want are the errors, each as (plan, field) and a piece of its text.
		want []where
		text []string
	}{
		{
			name: "unknown field of a plan",
			yaml: minimal("pol: people"),
			want: []where{{"x", ""}},
			text: []string{`plan "x": unknown field "pol" (line 8)`},
		},
		{
			name: "unknown field of overage",
			yaml: minimal("overage:", "  enabled: true", "  limitt: 5"),
			want: []where{{"x", "overage"}},
			text: []string{`plan "x": overage: unknown field "limitt" (line 10)`},
		},
		{
			name: "unknown field of the file",
			yaml: "plan:\n  x: {}\n",
			want: []where{{"", ""}},
			text: []string{`unknown field "plan" (line 1)`},
		},
		{
			name: "credits of the wrong type",
			yaml: replace("credits", "lots"),
			want: []where{{"x", "credits"}},
			text: []string{`plan "x": credits: cannot unmarshal !!str` + " `lots` into int64 (line 3)"},
		},
		{
			name: "overage limit of the wrong type in a flow mapping",
			yaml: minimal("overage: {enabled: true, limit: many}"),
			want: []where{{"x", "overage"}},
			text: []string{`plan "x": overage: cannot unmarshal`},
		},
		{
			name: "bad cron spec",
			yaml: strings.Replace(apiExample, `"@monthly"`, `"@montly"`, 1),
			want: []where{{"people-1k-99", "refresh"}},
			text: []string{`plan "people-1k-99": refresh: bad cron spec "@montly": `},
		},
		{
			name: "six-field cron spec",
			yaml: replace("refresh", `"0 0 0 1 * *"`),
			want: []where{{"x", "refresh"}},
			text: []string{`plan "x": refresh: bad cron spec "0 0 0 1 * *": expected exactly 5 fields`},
		},
		{
			name: "cron spec with a time zone",
			yaml: replace("refresh", `"CRON_TZ=Europe/Paris 0 0 1 * *"`),
			want: []where{{"x", "refresh"}},
			text: []string{`schedules are UTC`},
		},
		{
			name: "cron spec that never fires",
			yaml: replace("refresh", `"0 0 30 2 *"`),
			want: []where{{"x", "refresh"}},
			text: []string{`plan "x": refresh: bad cron spec "0 0 30 2 *": it never fires`},
		},
		{
			name: "@every under a second",
			yaml: replace("refresh", `"@every 500ms"`),
			want: []where{{"x", "refresh"}},
			text: []string{`the period must be at least 1s`},
		},
		{
			name: "missing refresh",
			yaml: without("refresh"),
			want: []where{{"x", "refresh"}},
			text: []string{`plan "x": refresh: required`},
		},
		{
			name: "negative credits",
			yaml: replace("credits", "-5"),
			want: []where{{"x", "credits"}},
			text: []string{`plan "x": credits: must be 0 or more, got -5`},
		},
		{
			name: "missing credits",
			yaml: without("credits"),
			want: []where{{"x", "credits"}},
			text: []string{`plan "x": credits: required`},
		},
		{
			name: "negative overage limit and price",
			yaml: minimal("overage: {enabled: true, limit: -1, price_cents: -2}"),
			want: []where{{"x", "overage.limit"}, {"x", "overage.price_cents"}},
			text: []string{`plan "x": overage.limit: must be 0 or more, got -1`, `plan "x": overage.price_cents: must be 0 or more, got -2`},
		},
		{
			name: "unknown policy",
			yaml: minimal("on_insufficient: beg"),
			want: []where{{"x", "on_insufficient"}},
			text: []string{`plan "x": on_insufficient: unknown policy "beg" (want reject, partial or overage)`},
		},
		{
			name: "unknown operation",
			yaml: replace("operations", "[search, scrape]"),
			want: []where{{"x", "operations"}},
			text: []string{`plan "x": operations: unknown operation "scrape" (want search, download or enrichment)`},
		},
		{
			name: "unknown data type",
			yaml: replace("data_types", "[people, cars]"),
			want: []where{{"x", "data_types"}},
			text: []string{`plan "x": data_types: unknown data type "cars" (want people, properties, businesses or products)`},
		},
		{
			name: "unknown charge mode",
			yaml: minimal("enrichment_charge: attempted"),
			want: []where{{"x", "enrichment_charge"}},
			text: []string{`plan "x": enrichment_charge: unknown mode "attempted" (want matched or submitted)`},
		},
		{
			name: "unknown dedup operation",
			yaml: minimal("dedup: [scrape]"),
			want: []where{{"x", "dedup"}},
			text: []string{`plan "x": dedup: unknown operation "scrape"`},
		},
		{
			name: "empty pool",
			yaml: replace("pool", `""`),
			want: []where{{"x", "pool"}},
			text: []string{`plan "x": pool: required`},
		},
		{
			name: "missing data types",
			yaml: without("data_types"),
			want: []where{{"x", "data_types"}},
			text: []string{`plan "x": data_types: must list at least one data type`},
		},
		{
			name: "empty operations",
			yaml: replace("operations", "[]"),
			want: []where{{"x", "operations"}},
			text: []string{`plan "x": operations: must list at least one operation`},
		},
		{
			name: "plan id with capitals",
			yaml: strings.Replace(minimal(), "  x:", "  People:", 1),
			want: []where{{"People", "id"}},
			text: []string{`plan "People": id: "People" must match [a-z0-9_-]{1,64}`},
		},
		{
			name: "plan id of 65 characters",
			yaml: strings.Replace(minimal(), "  x:", "  "+strings.Repeat("a", 65)+":", 1),
			want: []where{{strings.Repeat("a", 65), "id"}},
			text: []string{`must match [a-z0-9_-]{1,64}`},
		},
		{
			name: "pool name with a space",
			yaml: replace("pool", `"my pool"`),
			want: []where{{"x", "pool"}},
			text: []string{`plan "x": pool: "my pool" must match [a-z0-9_-]{1,64}`},
		},
		{
			name: "pool name with a hash tag brace",
			yaml: replace("pool", `"a{b"`),
			want: []where{{"x", "pool"}},
			text: []string{`plan "x": pool: "a{b" must match`},
		},
		{
			name: "dedup of an operation the plan lacks",
			yaml: minimal("dedup: [enrichment]"),
			want: []where{{"x", "dedup"}},
			text: []string{`plan "x": dedup: "enrichment" is not one of the plan's operations`},
		},
		{
			name: "overage policy without overage",
			yaml: minimal("on_insufficient: overage"),
			want: []where{{"x", "on_insufficient"}},
			text: []string{`plan "x": on_insufficient: "overage" needs overage.enabled: true`},
		},
		{
			name: "overage policy with overage disabled",
			yaml: minimal("on_insufficient: overage", "overage: {enabled: false, limit: 10}"),
			want: []where{{"x", "on_insufficient"}},
			text: []string{`needs overage.enabled: true`},
		},
		{
			name: "duplicates in lists",
			yaml: replace("data_types", "[people, people]") + "    dedup: [search, search]\n",
			want: []where{{"x", "data_types"}, {"x", "dedup"}},
			text: []string{`plan "x": data_types: "people" listed more than once`, `plan "x": dedup: "search" listed more than once`},
		},
		{
			name: "duplicate operation",
			yaml: replace("operations", "[search, download, search]"),
			want: []where{{"x", "operations"}},
			text: []string{`plan "x": operations: "search" listed more than once`},
		},
		{
			name: "duplicate plan id",
			yaml: minimal() + strings.Join(strings.Split(minimal(), "\n")[1:], "\n"),
			want: []where{{"x", ""}},
			text: []string{`mapping key "x" already defined at line 2`},
		},
		{
			name: "empty plan",
			yaml: "plans:\n  x:\n",
			want: []where{{"x", "pool"}, {"x", "data_types"}, {"x", "operations"}, {"x", "credits"}, {"x", "refresh"}},
			text: []string{`plan "x": pool: required`},
		},
		{
			name: "no plans",
			yaml: "plans: {}\n",
			want: []where{{"", "plans"}},
			text: []string{`plans: no plans defined`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []where{{"", "plans"}},
			text: []string{`plans: empty file`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\nplans: %v", tt.yaml, c.IDs())
			}
			if c != nil {
				t.Errorf("Parse returned a catalog with its error")
			}
			var got []where
			for _, fe := range fieldErrors(err) {
				got = append(got, where{fe.Plan, fe.Field})
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(where{})); diff != "" {
				t.Errorf("errors at (-want +got):\n%s\nerror: %v", diff, err)
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestParseRejectsOther(t *testing.T) {
	tests := []struct{ name, yaml, text string }{
		{"YAML syntax", "plans: [\n", "yaml:"},
		{"two documents", minimal() + "---\n" + minimal(), "more than one YAML document"},
		{"plans not a mapping", "plans: [a, b]\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tt.text)
			}
		})
	}
}

// TestParseCollectsAllErrors checks that every mistake is reported, ordered
// by plan id, then by field in the order of the format.
func TestParseCollectsAllErrors(t *testing.T) {
	yaml := `plans:
  zed:
    pool: p
    data_types: [people]
    operations: [search]
    credits: -1
    refresh: "@montly"
  alpha:
    pool: "Bad Pool"
    data_types: [cars]
    operations: [search]
    credits: 1
    refresh: "@monthly"
    on_insufficient: overage
    dedup: [download]
`
	_, err := Parse([]byte(yaml))
	want := `plan "alpha": pool: "Bad Pool" must match [a-z0-9_-]{1,64}
plan "alpha": data_types: unknown data type "cars" (want people, properties, businesses or products)
plan "alpha": on_insufficient: "overage" needs overage.enabled: true
plan "alpha": dedup: "download" is not one of the plan's operations
plan "zed": credits: must be 0 or more, got -1
plan "zed": refresh: bad cron spec "@montly": unrecognized descriptor: @montly`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}
	for range 10 { // map order must not leak into the error
		if _, again := Parse([]byte(yaml)); again.Error() != err.Error() {
			t.Fatalf("error changed between runs:\n%v\n---\n%v", err, again)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "plans.yaml")
	if err := os.WriteFile(good, []byte(apiExample), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.IDs(); !cmp.Equal(got, []string{"people-1k-99"}) {
		t.Errorf("IDs() = %v", got)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(replace("credits", "-5")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `plan "x": credits:`) {
		t.Errorf("Load(bad) = %v, want the path and the plan's error", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

// fieldErrors returns the FieldErrors inside err, in order.
func fieldErrors(err error) []*FieldError {
	if fe, ok := errors.AsType[*FieldError](err); ok {
		if _, joined := err.(interface{ Unwrap() []error }); !joined {
			return []*FieldError{fe}
		}
	}
	var out []*FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
	}
	return out
}
