package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// FieldError is one mistake in a plans file. Parse returns every mistake it
// finds, each a *FieldError, joined with errors.Join.
type FieldError struct {
	// Plan is the id of the plan concerned, or empty for the file as a whole.
	Plan string
	// Field is the dotted path of the field concerned within the plan, such
	// as "credits" or "overage.limit", or empty for the plan as a whole.
	Field string
	// Err says what is wrong.
	Err error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Plan != "" {
		fmt.Fprintf(&b, "plan %q: ", e.Plan)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Load reads and parses the plans file at path, as Parse does.
func Load(path string) (*Catalog, error) {
	return LoadFor(path, sampleDataTypes())
}

// LoadFor reads and parses the plans file at path, as ParseFor does.
func LoadFor(path string, dataTypes []DataType) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plans file: %w", err)
	}
	c, err := ParseFor(b, dataTypes)
	if err != nil {
		return nil, fmt.Errorf("plans file %s: %w", path, err)
	}
	return c, nil
}

// Parse parses a plans file (the "Plans file" of API.md) and validates every
// plan. It refuses unknown fields, values of the wrong type, unknown
// policies, operations, data types and charge modes, bad cron specs,
// negative amounts, empty lists, duplicates within a list, ids and pool
// names outside [a-z0-9_-]{1,64}, dedup operations the plan does not have,
// and the overage policy without overage enabled. The error lists every
// mistake, by plan id then field, each naming the plan and the field.
//
// Several plans may fill the same pool with different coverage: different
// accounts may subscribe to them. Catalog.Subscribe checks one account's.
//
// The known data types are those of the sample dataset (DataTypes); ParseFor
// takes others.
func Parse(b []byte) (*Catalog, error) { return ParseFor(b, sampleDataTypes()) }

// ParseFor is Parse with the data types a plan may name: those of the
// dataset the catalog is for. With nil, any data type of the form
// [a-z0-9_-]{1,64} is accepted: a process that serves no dataset cannot
// know them, and the check is left to Catalog.CheckDataTypes where the
// dataset is known.
func ParseFor(b []byte, dataTypes []DataType) (*Catalog, error) {
	var raw rawFile
	if err := decode(b, &raw); err != nil {
		return nil, err
	}
	if len(raw.Plans) == 0 {
		return nil, &FieldError{Field: "plans", Err: errors.New("no plans defined")}
	}

	c := &Catalog{plans: make(map[string]Plan, len(raw.Plans))}
	for id := range raw.Plans {
		c.ids = append(c.ids, id)
	}
	slices.Sort(c.ids)
	var errs []error
	for _, id := range c.ids {
		p, perrs := raw.Plans[id].plan(id, dataTypes)
		errs = append(errs, perrs...)
		c.plans[id] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// rawFile mirrors the YAML of a plans file.
type rawFile struct {
	Plans map[string]*rawPlan `yaml:"plans"`
}

// rawPlan mirrors the YAML of one plan. Pointers tell "absent" from zero
// where that matters.
type rawPlan struct {
	Pool             string      `yaml:"pool"`
	DataTypes        []string    `yaml:"data_types"`
	Operations       []string    `yaml:"operations"`
	Credits          *int64      `yaml:"credits"`
	Refresh          string      `yaml:"refresh"`
	OnInsufficient   string      `yaml:"on_insufficient"`
	Overage          *rawOverage `yaml:"overage"`
	EnrichmentCharge string      `yaml:"enrichment_charge"`
	Dedup            []string    `yaml:"dedup"`
}

type rawOverage struct {
	Enabled    bool  `yaml:"enabled"`
	Limit      int64 `yaml:"limit"`
	PriceCents int64 `yaml:"price_cents"`
}

// decode decodes one YAML document into raw, refusing unknown fields. Its
// type errors name the plan and field they concern.
func decode(b []byte, raw *rawFile) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(raw)
	if errors.Is(err, io.EOF) {
		return &FieldError{Field: "plans", Err: errors.New("empty file")}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return typeErrors(b, te)
	}
	if err != nil {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// typeErrors turns the messages of te, which look like
// "line 7: field pol not found in type plan.rawPlan", into FieldErrors that
// name the plan and field at that line.
func typeErrors(b []byte, te *yaml.TypeError) error {
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // it decoded once; a failure leaves root empty
	var errs []error
	for _, msg := range te.Errors {
		line := 0
		rest := msg
		if l, r, ok := strings.Cut(msg, ": "); ok {
			if n, err := strconv.Atoi(strings.TrimPrefix(l, "line ")); err == nil {
				line, rest = n, r
			}
		}
		planID, path := locate(&root, line)
		if m := unknownField.FindStringSubmatch(rest); m != nil {
			if len(path) > 0 && path[len(path)-1] == m[1] {
				path = path[:len(path)-1]
			}
			rest = fmt.Sprintf("unknown field %q", m[1])
		}
		rest = goTypes.Replace(rest)
		if line > 0 {
			rest += fmt.Sprintf(" (line %d)", line)
		}
		errs = append(errs, &FieldError{Plan: planID, Field: strings.Join(path, "."), Err: errors.New(rest)})
	}
	return errors.Join(errs...)
}

var unknownField = regexp.MustCompile(`^field (.*) not found in type \S+$`)

// goTypes names the types of this file in yaml's messages as a reader of
// the plans file knows them.
var goTypes = strings.NewReplacer(
	"map[string]*plan.rawPlan", "a mapping of plan ids to plans",
	"plan.rawFile", "a plans file (a mapping with the key plans)",
	"plan.rawPlan", "a plan (a mapping)",
	"plan.rawOverage", "overage (a mapping)",
)

// locate returns the plan id and the field path of the node at line, as far
// as lines tell them apart (keys of a one-line flow mapping do not).
func locate(root *yaml.Node, line int) (planID string, path []string) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	k, plans := entryAt(n, line)
	switch {
	case k == nil:
		return "", nil
	case k.Value != "plans":
		return "", []string{k.Value}
	}
	k, n = entryAt(plans, line)
	if k == nil {
		return "", []string{"plans"}
	}
	planID = k.Value
	for n != nil && n.Kind == yaml.MappingNode {
		k, n = entryAt(n, line)
		if k == nil {
			break
		}
		path = append(path, k.Value)
	}
	return planID, path
}

// entryAt returns the key and value of mapping m whose entry holds line: the
// last key at or before line. It returns nil if there is none, or if
// several keys share that key's line and line is on it.
func entryAt(m *yaml.Node, line int) (key, value *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	found := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Line <= line {
			found = i
		}
	}
	if found < 0 {
		return nil, nil
	}
	key = m.Content[found]
	if key.Line == line {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if i != found && m.Content[i].Line == line {
				return nil, nil
			}
		}
	}
	return key, m.Content[found+1]
}

// plan validates r and returns the plan it describes, and every mistake in
// it, in the order of the fields.
func (r *rawPlan) plan(id string, dataTypes []DataType) (Plan, []error) {
	if r == nil {
		r = &rawPlan{}
	}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Plan: id, Field: field, Err: fmt.Errorf(format, args...)})
	}

	p := Plan{
		ID:               id,
		Pool:             r.Pool,
		Refresh:          r.Refresh,
		OnInsufficient:   PolicyReject,
		EnrichmentCharge: ChargeMatched,
	}
	if !validName(id) {
		fail("id", "%q must match %s", id, namePattern)
	}
	switch {
	case r.Pool == "":
		fail("pool", "required")
	case !validName(r.Pool):
		fail("pool", "%q must match %s", r.Pool, namePattern)
	}

	var bad []string
	checkList(r.DataTypes, false, "data_types", "data type", fail)
	p.DataTypes, bad = parseDataTypes(r.DataTypes, dataTypes)
	for _, v := range bad {
		if dataTypes == nil {
			fail("data_types", "%q must match %s", v, namePattern)
			continue
		}
		fail("data_types", "unknown data type %q (want %s)", v, oneOf(dataTypes))
	}

	checkList(r.Operations, false, "operations", "operation", fail)
	p.Operations, bad = parseList[Operation](r.Operations)
	for _, v := range bad {
		fail("operations", "unknown operation %q (want %s)", v, oneOf(Operations()))
	}

	switch {
	case r.Credits == nil:
		fail("credits", "required")
	case *r.Credits < 0:
		fail("credits", "must be 0 or more, got %d", *r.Credits)
	default:
		p.Credits = *r.Credits
	}

	sched, err := parseRefresh(r.Refresh)
	if err != nil {
		fail("refresh", "%v", err)
	}
	p.Schedule = sched

	if r.OnInsufficient != "" {
		p.OnInsufficient = Policy(r.OnInsufficient)
		if !p.OnInsufficient.Valid() {
			fail("on_insufficient", "unknown policy %q (want %s)", r.OnInsufficient, oneOf(Policies()))
		}
	}

	if o := r.Overage; o != nil {
		p.Overage = Overage{Enabled: o.Enabled, Limit: o.Limit, PriceCents: o.PriceCents}
		if o.Limit < 0 {
			fail("overage.limit", "must be 0 or more, got %d", o.Limit)
		}
		if o.PriceCents < 0 {
			fail("overage.price_cents", "must be 0 or more, got %d", o.PriceCents)
		}
	}
	if p.OnInsufficient == PolicyOverage && !p.Overage.Enabled {
		fail("on_insufficient", "%q needs overage.enabled: true", PolicyOverage)
	}

	if r.EnrichmentCharge != "" {
		p.EnrichmentCharge = EnrichmentCharge(r.EnrichmentCharge)
		if !p.EnrichmentCharge.Valid() {
			fail("enrichment_charge", "unknown mode %q (want %s)", r.EnrichmentCharge, oneOf(EnrichmentCharges()))
		}
	}

	checkList(r.Dedup, true, "dedup", "operation", fail)
	p.Dedup, bad = parseList[Operation](r.Dedup)
	for _, v := range bad {
		fail("dedup", "unknown operation %q (want %s)", v, oneOf(Operations()))
	}
	for _, op := range p.Dedup {
		if !slices.Contains(p.Operations, op) {
			fail("dedup", "%q is not one of the plan's operations", op)
		}
	}
	return p, errs
}

// parseList converts the known values of raw and returns the unknown ones.
func parseList[T interface {
	~string
	Valid() bool
}](raw []string) (known []T, unknown []string) {
	for _, s := range raw {
		if v := T(s); v.Valid() {
			known = append(known, v)
		} else {
			unknown = append(unknown, s)
		}
	}
	return known, unknown
}

// parseDataTypes converts the data types of raw that are among known (with
// nil known, those of the form of namePattern) and returns the others.
func parseDataTypes(raw []string, known []DataType) (ok []DataType, unknown []string) {
	for _, s := range raw {
		if dt := DataType(s); (known == nil && validName(s)) || slices.Contains(known, dt) {
			ok = append(ok, dt)
		} else {
			unknown = append(unknown, s)
		}
	}
	return ok, unknown
}

// checkList reports an empty list (unless it may be empty) and values
// listed more than once.
func checkList(raw []string, mayBeEmpty bool, field, what string, fail func(field, format string, args ...any)) {
	if len(raw) == 0 && !mayBeEmpty {
		fail(field, "must list at least one %s", what)
	}
	seen := make(map[string]int, len(raw))
	for _, v := range raw {
		if seen[v]++; seen[v] == 2 {
			fail(field, "%q listed more than once", v)
		}
	}
}

// oneOf formats values as "a, b or c".
func oneOf[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// namePattern is the form of plan ids and pool names.
const namePattern = "[a-z0-9_-]{1,64}"

// validName reports whether s matches namePattern.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// scheduleCheckFrom is where parseRefresh looks for a first boundary, to
// refuse specs that never fire (such as "0 0 30 2 *").
var scheduleCheckFrom = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// ParseRefresh parses a cron spec of period boundaries, in UTC, as a plan's
// refresh is parsed, into a Plan that holds only its schedule: enough for
// NextBoundary and CurrentPeriod.
func ParseRefresh(spec string) (Plan, error) {
	sched, err := parseRefresh(spec)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Refresh: spec, Schedule: sched}, nil
}

// parseRefresh parses a cron spec of period boundaries, in UTC.
func parseRefresh(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("required")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("bad cron spec %q: schedules are UTC, drop the time zone", spec)
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if dur, err := time.ParseDuration(d); err == nil && dur < time.Second {
			return nil, fmt.Errorf("bad cron spec %q: the period must be at least 1s", spec)
		}
	}
	// ParseStandard takes the zone from a CRON_TZ prefix; without one it
	// would use the zone of each time given to Next.
	sched, err := cron.ParseStandard("CRON_TZ=UTC " + spec)
	if err != nil {
		return nil, fmt.Errorf("bad cron spec %q: %w", spec, err)
	}
	if sched.Next(scheduleCheckFrom).IsZero() {
		return nil, fmt.Errorf("bad cron spec %q: it never fires", spec)
	}
	return sched, nil
}
