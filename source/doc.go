// Package source is where jobs get their records. Workers search a data type
// with the vendors' query language (package [query]) and enrich items by
// matching them to records, through the [Source] interface, and stream what
// they get into result files without holding it whole.
//
// The embedded default, a dataset of JSONL files on disk with an inverted
// index, is package [github.com/creditrun/creditrun/source/dataset]. Other
// sources, such as an upstream vendor API or a search engine, plug in behind
// the same interface.
//
// A [Record] keeps its JSON exactly as stored, so writers can copy it out
// without decoding and encoding it again.
package source
