// Package plan reads the plans file: what each plan grants, to which pool,
// for which data types and operations, on which cron schedule, and what
// happens when a pool runs short.
//
// It exists so that every part of creditrun (the API when it creates an
// account, the ledger when it reserves and refreshes, the scheduler when it
// finds ended periods) reads one validated, typed catalog instead of YAML.
// It is pure policy: it parses and answers questions, and never touches
// Redis. [Parse] refuses a file with any mistake and names every one, plan
// and field; [Catalog.Subscribe] checks that an account's plans do not
// overlap; [Plan.CurrentPeriod] says which period a moment falls in.
package plan

import (
	"slices"

	"github.com/robfig/cron/v3"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Plan is one plan of the catalog: a grant of credits per period to one pool.
// Plans from a Catalog are copies; changing one changes nothing else.
type Plan struct {
	// ID is the plan's key in the plans file, [a-z0-9_-]{1,64}.
	ID string
	// Pool is the balance this plan fills, [a-z0-9_-]{1,64}.
	Pool string
	// DataTypes and Operations say what draws from Pool: every pair of one
	// data type and one operation. Neither is empty.
	DataTypes  []DataType
	Operations []Operation
	// Credits is the grant per period, 0 or more.
	Credits int64
	// Refresh is the cron spec of the period boundaries, as written
	// (robfig/cron standard syntax, UTC).
	Refresh string
	// Schedule is Refresh parsed. Its times are UTC.
	Schedule cron.Schedule
	// OnInsufficient is what a request does when the pool is short, unless
	// the request says otherwise. Defaults to PolicyReject.
	OnInsufficient Policy
	// Overage says whether and how far the pool may go past its balance.
	// Defaults to disabled.
	Overage Overage
	// EnrichmentCharge says when an enrichment is charged.
	// Defaults to ChargeMatched.
	EnrichmentCharge EnrichmentCharge
	// Dedup lists the operations where a record id already charged to the
	// pool is free. A subset of Operations. Defaults to none.
	Dedup []Operation
}

// Overage is a plan's allowance to go past the prepaid balance.
type Overage struct {
	// Enabled allows overage at all.
	Enabled bool
	// Limit caps the credits of unpaid plus reserved overage, 0 or more.
	Limit int64
	// PriceCents is the price of one overage credit, in cents, 0 or more.
	PriceCents int64
}

// Covers reports whether the pair (dt, op) draws from the plan's pool.
func (p Plan) Covers(dt DataType, op Operation) bool {
	return slices.Contains(p.DataTypes, dt) && slices.Contains(p.Operations, op)
}

// Dedups reports whether op charges a record id at most once per pool.
func (p Plan) Dedups(op Operation) bool { return slices.Contains(p.Dedup, op) }

// clone returns p with its own copies of the slices.
func (p Plan) clone() Plan {
	p.DataTypes = slices.Clone(p.DataTypes)
	p.Operations = slices.Clone(p.Operations)
	p.Dedup = slices.Clone(p.Dedup)
	return p
}

// Policy is what a reservation does when the pool is short: the ledger's own
// type, so that a plan's default goes to the ledger as it is.
type Policy = credit.Policy

// The shortfall policies.
const (
	// PolicyReject reserves nothing and answers 402.
	PolicyReject = credit.Reject
	// PolicyPartial reserves what is available and processes that much.
	PolicyPartial = credit.Partial
	// PolicyOverage reserves the shortfall from the overage headroom.
	PolicyOverage = credit.Overage
)

// Policies lists the known policies.
func Policies() []Policy { return []Policy{PolicyReject, PolicyPartial, PolicyOverage} }

// PoolConfig is what the ledger keeps, in the pool the plan fills, of the
// plan: the grant and the overage terms.
func (p Plan) PoolConfig() credit.PoolConfig {
	return credit.PoolConfig{
		Name:              p.Pool,
		Grant:             p.Credits,
		OverageEnabled:    p.Overage.Enabled,
		OverageLimit:      p.Overage.Limit,
		OveragePriceCents: p.Overage.PriceCents,
		Schedule:          p.Refresh,
	}
}

// ChargesAtAcceptance reports whether op is charged when the job is accepted
// rather than when it settles: enrichment on a plan that charges per
// submitted item.
func (p Plan) ChargesAtAcceptance(op Operation) bool {
	return op == OpEnrichment && p.EnrichmentCharge == ChargeSubmitted
}

// Operation is a kind of job.
type Operation string

// The operations.
const (
	OpSearch     Operation = "search"
	OpDownload   Operation = "download"
	OpEnrichment Operation = "enrichment"
)

// Operations lists the known operations.
func Operations() []Operation { return []Operation{OpSearch, OpDownload, OpEnrichment} }

// Valid reports whether op is a known operation.
func (op Operation) Valid() bool { return slices.Contains(Operations(), op) }

// DataType is a kind of record.
type DataType string

// The data types of the sample dataset.
const (
	DataTypePeople     DataType = "people"
	DataTypeProperties DataType = "properties"
	DataTypeBusinesses DataType = "businesses"
	DataTypeProducts   DataType = "products"
)

// DataTypes lists the data types of the sample dataset, those that Parse
// knows. A dataset of other data types has its plans parsed with ParseFor.
func DataTypes() []DataType { return sampleDataTypes() }

func sampleDataTypes() []DataType {
	return []DataType{DataTypePeople, DataTypeProperties, DataTypeBusinesses, DataTypeProducts}
}

// DataTypesOf converts names, such as a source's data types, to DataTypes.
func DataTypesOf(names []string) []DataType {
	out := make([]DataType, len(names))
	for i, n := range names {
		out[i] = DataType(n)
	}
	return out
}

// Valid reports whether dt is a data type of the sample dataset.
func (dt DataType) Valid() bool { return slices.Contains(DataTypes(), dt) }

// EnrichmentCharge says when an enrichment is charged.
type EnrichmentCharge string

// The enrichment charge modes.
const (
	// ChargeMatched charges the items that matched a record, at settlement.
	ChargeMatched EnrichmentCharge = "matched"
	// ChargeSubmitted charges every accepted item, at acceptance, whether or
	// not the work succeeds.
	ChargeSubmitted EnrichmentCharge = "submitted"
)

// EnrichmentCharges lists the known charge modes.
func EnrichmentCharges() []EnrichmentCharge {
	return []EnrichmentCharge{ChargeMatched, ChargeSubmitted}
}

// Valid reports whether c is a known charge mode.
func (c EnrichmentCharge) Valid() bool { return slices.Contains(EnrichmentCharges(), c) }
