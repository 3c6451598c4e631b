package query

// FieldRef is one field a query names, and where.
type FieldRef struct {
	// Field is the dotted path as written, escapes removed.
	Field string
	// At is the byte offset in the query where it is named.
	At int
}

// Fields returns the fields n names, in the order the query names them,
// each once (at its first mention).
func Fields(n Node) []FieldRef {
	var out []FieldRef
	seen := map[string]bool{}
	add := func(field string, at int) {
		if !seen[field] {
			seen[field] = true
			out = append(out, FieldRef{Field: field, At: at})
		}
	}
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *Term:
			add(n.Field, n.At)
		case *Exists:
			add(n.Field, n.At)
		case *Range:
			add(n.Field, n.At)
		case *Not:
			walk(n.Clause)
		case *And:
			for _, c := range n.Clauses {
				walk(c)
			}
		case *Or:
			for _, c := range n.Clauses {
				walk(c)
			}
		}
	}
	walk(n)
	return out
}
