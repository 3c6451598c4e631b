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
//
// # What a query may cost
//
// A search that matches nothing costs the customer nothing, so the work a
// query makes a worker do must be bounded apart from credits. Parse bounds
// the shape (MaxDepth, MaxClauses); Cost counts the work the tree implies,
// before any record is looked at, and jobs refuse at submit a query whose
// cost is over MaxCost (CheckCost, a *CostError). The model, in units of
// one posting list read from the index:
//
//	each word of a value                      1  (CostWord; an id is one word)
//	a value of several words, quoted or not  +8  (CostOrder: the order of the
//	                                              words is checked in the
//	                                              records that have them all)
//	a prefix (name:jo*)                      +4  (CostPrefix)
//	field:*                                   2  (CostExists)
//	a range                                   4  (CostRange)
//	*, each NOT, each clause of AND or OR     1  (CostOp: one set operation)
//
// Nesting costs what its groups' clauses cost. MaxCost, 8,192, admits every
// query of 1,024 single words, prefixes or ranges, negated or not (a list of
// postal codes, an exclusion list of ids), and some 700 phrases or email
// addresses; the 1,024 phrases of a query built to keep a worker busy are
// over it. How much a query really costs depends on the data (a phrase of
// two common words reads many records, one of two rare words few), which
// Cost cannot see: the source bounds that at run time with a budget of work
// per search (package dataset, Options.MaxSearchSteps).
package query
