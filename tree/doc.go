// Package tree holds pcct's searches over a metric: the parallel compressed
// cover tree (Build, Check, exact k-NN for all points, predecessors and
// query sets, range queries, Save and Load), an exact k-d tree for the
// Euclidean metric in few dimensions (BuildKD), exact blocked brute force
// (the ground truth every tree answer is tested against), and the choice
// between them (AllKNNSearch, KNNSearch).
package tree
