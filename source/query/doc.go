// Package query parses the query language that jobs search with: the subset
// of Lucene's syntax that data vendors use, as API.md specifies it, for
// example
//
//	address:"4801 Yucca Hl Dr" AND province:TX AND (city:Austin OR postalCode:78744)
//
// Parse turns a query into a tree of Nodes, or into a *SyntaxError that
// carries the byte position of the mistake, which the API reports. The
// parser is a small recursive descent over the bytes of the query (no
// Lucene parser is available to Go here); FuzzParse holds it to never
// panicking and to printing trees that parse back to themselves. What the
// nodes match is up to the source that evaluates them (package dataset).
package query
