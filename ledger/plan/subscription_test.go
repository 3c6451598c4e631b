package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSubscribe(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		pools []string
		// draws maps a pair to the plan it must draw from; "" means not covered.
		draws map[Pair]string
	}{
		{
			name:  "per-type plans and local",
			ids:   []string{"people-1k-99", "properties-10k-349", "local-2k-49"},
			pools: []string{"businesses", "people", "properties"},
			draws: map[Pair]string{
				{DataTypePeople, OpSearch}:            "people-1k-99",
				{DataTypePeople, OpEnrichment}:        "people-1k-99",
				{DataTypeProperties, OpDownload}:      "properties-10k-349",
				{DataTypeBusinesses, OpEnrichment}:    "local-2k-49",
				{DataTypeProducts, OpSearch}:          "",
				{DataType("cars"), OpSearch}:          "",
				{DataTypePeople, Operation("scrape")}: "",
			},
		},
		{
			name:  "enhance family",
			ids:   []string{"enhance-5k", "enhance-export-10k"},
			pools: []string{"enhancement", "export"},
			draws: map[Pair]string{
				{DataTypeProducts, OpEnrichment}: "enhance-5k",
				{DataTypePeople, OpDownload}:     "enhance-export-10k",
				{DataTypePeople, OpSearch}:       "",
			},
		},
		{
			name:  "no plans",
			ids:   nil,
			pools: []string{},
			draws: map[Pair]string{{DataTypePeople, OpSearch}: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Builtin().Subscribe(tt.ids)
			if err != nil {
				t.Fatalf("Subscribe(%v): %v", tt.ids, err)
			}
			if diff := cmp.Diff(tt.pools, s.Pools()); diff != "" {
				t.Errorf("Pools() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ids, s.PlanIDs()); tt.ids != nil && diff != "" {
				t.Errorf("PlanIDs() (-want +got):\n%s", diff)
			}
			if len(s.Plans()) != len(tt.ids) {
				t.Errorf("Plans() has %d plans, want %d", len(s.Plans()), len(tt.ids))
			}
			for pair, want := range tt.draws {
				p, ok := s.PoolFor(pair.DataType, pair.Operation)
				if want == "" {
					if ok {
						t.Errorf("PoolFor%s = plan %q, want none", pair, p.ID)
					}
					continue
				}
				if !ok || p.ID != want {
					t.Errorf("PoolFor%s = %q, %v; want %q", pair, p.ID, ok, want)
				}
				if q, ok := s.PlanForPool(p.Pool); !ok || q.ID != want {
					t.Errorf("PlanForPool(%q) = %q, %v; want %q", p.Pool, q.ID, ok, want)
				}
			}
		})
	}
}

func TestSubscribeRefuses(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		is   error
		text []string
	}{
		{
			name: "unknown plan",
			ids:  []string{"people-1k-99", "people-1m"},
			is:   ErrUnknownPlan,
			text: []string{`unknown plan "people-1m"`},
		},
		{
			name: "two plans fill one pool",
			ids:  []string{"businesses-5k-199", "local-2k-49"},
			is:   ErrPlanConflict,
			text: []string{`plans "businesses-5k-199" and "local-2k-49" both fill pool "businesses"`},
		},
		{
			name: "overlapping plans",
			ids:  []string{"people-1k-99", "enhance-5k"},
			is:   ErrPlanConflict,
			text: []string{`plans "people-1k-99" and "enhance-5k" overlap: (people, enrichment) would draw from pools "people" and "enhancement"`},
		},
		{
			name: "overlap on every data type",
			ids:  []string{"enhance-export-10k", "people-1k-99", "products-25k-249"},
			is:   ErrPlanConflict,
			text: []string{
				`plans "enhance-export-10k" and "people-1k-99" overlap: (people, download)`,
				`plans "enhance-export-10k" and "products-25k-249" overlap: (products, download)`,
			},
		},
		{
			name: "a plan listed twice",
			ids:  []string{"people-1k-99", "people-1k-99"},
			is:   ErrPlanConflict,
			text: []string{`plan "people-1k-99" is listed twice`},
		},
		{
			name: "every mistake at once",
			ids:  []string{"nope", "local-2k-49", "businesses-5k-199", "enhance-5k"},
			is:   ErrUnknownPlan,
			text: []string{`unknown plan "nope"`, `both fill pool "businesses"`, `(businesses, enrichment) would draw from pools "businesses" and "enhancement"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Builtin().Subscribe(tt.ids)
			if err == nil {
				t.Fatalf("Subscribe(%v) = %v, want an error", tt.ids, s.PlanIDs())
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, want := range tt.text {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestSubscribeSamePoolDifferentCoverage(t *testing.T) {
	// Two plans of one pool are a valid catalog; one account may hold one.
	c, err := Parse([]byte(`plans:
  a:
    pool: people
    data_types: [people]
    operations: [search]
    credits: 1
    refresh: "@monthly"
  b:
    pool: people
    data_types: [people]
    operations: [download]
    credits: 1
    refresh: "@monthly"
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe([]string{"a"}); err != nil {
		t.Errorf("Subscribe(a): %v", err)
	}
	if _, err := c.Subscribe([]string{"a", "b"}); !errors.Is(err, ErrPlanConflict) {
		t.Errorf("Subscribe(a, b) = %v, want ErrPlanConflict", err)
	}
}
