// Package benchmark measures creditrun against the bare tools it is built on,
// in the same run and against the same servers, so that its figures are
// ratios that mean something on any machine: `creditrun bench` prints them and
// the packages' testing.B benchmarks share the workloads.
package benchmark
