// Package scope collects scopes: for a batch of queries, each with a radius,
// the candidates (tree nodes) that lie within it. The work is cut into
// (query block x candidate chunk) tiles of the metric that run on a
// streamer.Pool. Candidates are one list for every query (dense: a whole
// tree level) or one list per query (sparse: what the tree proposes), under
// an optional scan cap. The answer, in CSR form sorted by id, is the same
// for every worker count and between dense and sparse requests that hold
// the same in-radius points.
package scope
