package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Fields returns the columns of a data type, for writers of tables (CSV)
// that need them before the first record: the dotted paths of the record
// fields seen at load, objects flattened ("address.city") and an array, or a
// null, as one column, sorted, with "id" first. A path that holds nothing but
// empty arrays or objects may be missing: it has no values to write.
//
// The load notes, for each path, the first record that shows it outside an
// array and the first that shows it inside one; Fields reads those few
// records back the first time it is called. It returns an error wrapping
// source.ErrUnknownDataType for a data type the dataset lacks, and an error
// when a record cannot be read back.
func (d *Dataset) Fields(dataType string) ([]string, error) {
	t, err := d.table(dataType)
	if err != nil {
		return nil, err
	}
	t.columnsOnce.Do(func() { t.columns, t.columnsErr = t.loadColumns() })
	return slices.Clone(t.columns), t.columnsErr
}

// QueryFields implements source.Source: "id" and the dotted paths of the
// index, which are the paths a query's clauses look up. It returns an error
// wrapping source.ErrUnknownDataType for a data type the dataset lacks.
func (d *Dataset) QueryFields(dataType string) ([]string, error) {
	t, err := d.table(dataType)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(t.fields)+1)
	out = append(out, "id")
	for i := range t.fields {
		if t.fields[i].name != "id" {
			out = append(out, t.fields[i].name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (t *table) loadColumns() ([]string, error) {
	seen := map[string]bool{}
	r := reader{t: t}
	for i, ord := range t.exemplars {
		raw, err := r.raw(ord, t.exemplars[i+1:])
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("fields of %s: record %d: %w", t.name, ord, err)
		}
		columnsOf(doc, "", seen)
	}
	delete(seen, "id")
	cols := make([]string, 0, len(seen)+1)
	for c := range seen {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	return append([]string{"id"}, cols...), nil
}

// columnsOf adds the flattened paths of an object: objects are followed,
// anything else (a scalar, an array, null) ends a path.
func columnsOf(obj map[string]any, prefix string, seen map[string]bool) {
	for k, v := range obj {
		p := prefix + k
		if m, ok := v.(map[string]any); ok {
			columnsOf(m, p+".", seen)
			continue
		}
		seen[p] = true
	}
}
