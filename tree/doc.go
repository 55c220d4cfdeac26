// Package tree holds pcct's searches over a metric: today the exact blocked
// brute-force k-nearest-neighbour search that every faster path is tested
// against; the parallel compressed cover tree builds on it.
package tree
