package plan

import (
	_ "embed"
	"fmt"
	"sync"
)

// Catalog is a parsed, valid plans file: the plans by id. It is read-only
// and safe for concurrent use.
type Catalog struct {
	plans map[string]Plan
	ids   []string // sorted
}

// Plan returns the plan with the given id, and whether there is one.
func (c *Catalog) Plan(id string) (Plan, bool) {
	p, ok := c.plans[id]
	if !ok {
		return Plan{}, false
	}
	return p.clone(), true
}

// IDs returns the ids of the plans, sorted.
func (c *Catalog) IDs() []string {
	return append([]string(nil), c.ids...)
}

// Plans returns the plans, sorted by id.
func (c *Catalog) Plans() []Plan {
	plans := make([]Plan, len(c.ids))
	for i, id := range c.ids {
		plans[i] = c.plans[id].clone()
	}
	return plans
}

// Len returns the number of plans.
func (c *Catalog) Len() int { return len(c.ids) }

// builtinYAML is the plans file of the built-in catalog.
//
//go:embed catalog.yaml
var builtinYAML []byte

var builtin = sync.OnceValue(func() *Catalog {
	c, err := Parse(builtinYAML)
	if err != nil {
		// The catalog is embedded and tested: this is a build mistake.
		panic(fmt.Sprintf("plan: the built-in catalog.yaml is invalid: %v", err))
	}
	return c
})

// Builtin returns the built-in catalog (catalog.yaml in this package),
// which creditrun uses when no plans file is configured. Its plans follow
// three kinds of data vendor: a plan per data type with overage, an
// "enhance" family of cross-type pools, and a "local" plan that rejects
// past its balance and never charges an enrichment twice.
func Builtin() *Catalog { return builtin() }

// BuiltinYAML returns the plans file of the built-in catalog, a starting
// point for a custom one.
func BuiltinYAML() []byte { return append([]byte(nil), builtinYAML...) }
