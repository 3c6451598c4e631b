package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Record is one record of a data type: its id and its JSON object exactly as
// the source holds it.
type Record struct {
	// ID is the record's "id".
	ID string
	// Raw is the record's JSON object, without a trailing newline. It belongs
	// to the Record: it is not reused by the stream that yielded it, and
	// callers must not modify it.
	Raw json.RawMessage
}

// Decode unmarshals the record's JSON into v, as json.Unmarshal does.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Raw, v); err != nil {
		return fmt.Errorf("decode record %s: %w", r.ID, err)
	}
	return nil
}

// Values returns the values at path, a dotted path of object keys such as
// "brokers.agent". An array met on the way contributes each of its elements,
// so "brokers.agent" gives the agent of every broker, and a path that ends at
// an array gives its elements. Values are decoded as encoding/json decodes
// into any, except that numbers are json.Number (their text exactly). Values
// returns nil when the path reaches nothing or the record is not valid JSON.
func (r Record) Values(path string) []any {
	dec := json.NewDecoder(bytes.NewReader(r.Raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	return valuesAt(doc, path)
}

// Values returns the item's values at a dotted path, under the rules of
// Record.Values.
func (it Item) Values(path string) []any {
	return valuesAt(map[string]any(it), path)
}

// valuesAt follows path from v, flattening arrays on the way and at the end.
func valuesAt(v any, path string) []any {
	cur := []any{v}
	for key := range strings.SplitSeq(path, ".") {
		var next []any
		for _, c := range cur {
			next = appendKey(next, c, key)
		}
		if len(next) == 0 {
			return nil
		}
		cur = next
	}
	var out []any
	for _, c := range cur {
		out = appendFlat(out, c)
	}
	return out
}

func appendKey(dst []any, v any, key string) []any {
	switch v := v.(type) {
	case map[string]any:
		if x, ok := v[key]; ok {
			dst = append(dst, x)
		}
	case Item:
		if x, ok := v[key]; ok {
			dst = append(dst, x)
		}
	case []any:
		for _, e := range v {
			dst = appendKey(dst, e, key)
		}
	}
	return dst
}

func appendFlat(dst []any, v any) []any {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			dst = appendFlat(dst, e)
		}
		return dst
	}
	return append(dst, v)
}
