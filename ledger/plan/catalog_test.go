package plan

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditrun/creditrun/ledger/credit"
)

func TestBuiltin(t *testing.T) {
	c := Builtin()
	all := DataTypes()
	sde := []Operation{OpSearch, OpDownload, OpEnrichment}
	perType := func(id, pool string, dt DataType, credits, limit, price int64) Plan {
		return Plan{
			ID: id, Pool: pool, DataTypes: []DataType{dt}, Operations: sde, Credits: credits,
			Refresh: "@monthly", OnInsufficient: PolicyOverage,
			Overage:          Overage{Enabled: true, Limit: limit, PriceCents: price},
			EnrichmentCharge: ChargeMatched,
		}
	}
	want := []Plan{
		perType("businesses-5k-199", "businesses", DataTypeBusinesses, 5000, 500, 5),
		{
			ID: "enhance-5k", Pool: "enhancement", DataTypes: all, Operations: []Operation{OpEnrichment},
			Credits: 5000, Refresh: "@monthly", OnInsufficient: PolicyPartial, EnrichmentCharge: ChargeSubmitted,
		},
		{
			ID: "enhance-export-10k", Pool: "export", DataTypes: all, Operations: []Operation{OpDownload},
			Credits: 10000, Refresh: "@monthly", OnInsufficient: PolicyPartial, EnrichmentCharge: ChargeMatched,
			Dedup: []Operation{OpDownload},
		},
		{
			ID: "local-2k-49", Pool: "businesses", DataTypes: []DataType{DataTypeBusinesses}, Operations: sde,
			Credits: 2000, Refresh: "@monthly", OnInsufficient: PolicyReject, EnrichmentCharge: ChargeMatched,
			Dedup: []Operation{OpEnrichment},
		},
		perType("people-1k-99", "people", DataTypePeople, 1000, 100, 10),
		perType("products-25k-249", "products", DataTypeProducts, 25000, 2500, 1),
		perType("properties-10k-349", "properties", DataTypeProperties, 10000, 1000, 4),
	}
	if diff := cmp.Diff(want, c.Plans(), ignoreSchedule, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("builtin plans (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(c.IDs()) || c.Len() != len(want) {
		t.Errorf("IDs() = %v, Len() = %d", c.IDs(), c.Len())
	}

	// The embedded file goes through Parse like any other.
	again, err := Parse(BuiltinYAML())
	if err != nil {
		t.Fatalf("Parse(BuiltinYAML()): %v", err)
	}
	if diff := cmp.Diff(c.Plans(), again.Plans(), ignoreSchedule); diff != "" {
		t.Errorf("reparsed builtin differs:\n%s", diff)
	}
	if !bytes.Contains(BuiltinYAML(), []byte("people-1k-99:")) {
		t.Errorf("BuiltinYAML() does not hold the plans file")
	}
}

func TestCatalogReturnsCopies(t *testing.T) {
	c := Builtin()
	p, ok := c.Plan("people-1k-99")
	if !ok {
		t.Fatal(`Plan("people-1k-99") not found`)
	}
	p.DataTypes[0] = DataTypeProducts
	p.Operations[0] = OpEnrichment
	c.Plans()[0].DataTypes[0] = DataTypeProducts
	c.IDs()[0] = "changed"

	again, _ := c.Plan("people-1k-99")
	if again.DataTypes[0] != DataTypePeople || again.Operations[0] != OpSearch {
		t.Errorf("changing a returned plan changed the catalog: %+v", again)
	}
	if c.IDs()[0] != "businesses-5k-199" || c.Plans()[0].DataTypes[0] != DataTypeBusinesses {
		t.Errorf("changing returned slices changed the catalog: %v", c.IDs())
	}
	if _, ok := c.Plan("nope"); ok {
		t.Errorf(`Plan("nope") found`)
	}
}

func TestPlanCoversAndDedups(t *testing.T) {
	p, _ := Builtin().Plan("local-2k-49")
	tests := []struct {
		dt     DataType
		op     Operation
		covers bool
	}{
		{DataTypeBusinesses, OpSearch, true},
		{DataTypeBusinesses, OpEnrichment, true},
		{DataTypePeople, OpSearch, false},
	}
	for _, tt := range tests {
		if got := p.Covers(tt.dt, tt.op); got != tt.covers {
			t.Errorf("Covers(%s, %s) = %v, want %v", tt.dt, tt.op, got, tt.covers)
		}
	}
	if !p.Dedups(OpEnrichment) || p.Dedups(OpSearch) {
		t.Errorf("Dedups: enrichment %v, search %v; want true, false", p.Dedups(OpEnrichment), p.Dedups(OpSearch))
	}
}

func TestValid(t *testing.T) {
	for _, p := range Policies() {
		if !p.Valid() {
			t.Errorf("%q not valid", p)
		}
	}
	for _, op := range Operations() {
		if !op.Valid() {
			t.Errorf("%q not valid", op)
		}
	}
	for _, dt := range DataTypes() {
		if !dt.Valid() {
			t.Errorf("%q not valid", dt)
		}
	}
	for _, c := range EnrichmentCharges() {
		if !c.Valid() {
			t.Errorf("%q not valid", c)
		}
	}
	if Policy("Reject").Valid() || Operation("").Valid() || DataType("cars").Valid() || EnrichmentCharge("all").Valid() {
		t.Errorf("an unknown value is valid")
	}
}

func TestPoolConfig(t *testing.T) {
	c := Builtin()
	p, _ := c.Plan("people-1k-99")
	want := credit.PoolConfig{Name: "people", Grant: 1000, OverageEnabled: true, OverageLimit: 100, OveragePriceCents: 10, Schedule: "@monthly"}
	if got := p.PoolConfig(); got != want {
		t.Fatalf("PoolConfig() = %+v, want %+v", got, want)
	}
	if p.OnInsufficient != credit.Overage {
		t.Fatalf("policy %q", p.OnInsufficient)
	}
	e, _ := c.Plan("enhance-5k")
	if !e.ChargesAtAcceptance(OpEnrichment) || e.ChargesAtAcceptance(OpDownload) || p.ChargesAtAcceptance(OpEnrichment) {
		t.Fatal("ChargesAtAcceptance")
	}
}
