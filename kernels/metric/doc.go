// Package metric builds the distances pcct searches with: the
// residual-correlation metric of a Gaussian-process kernel after its
// inducing-point (low-rank) part is removed, and the Euclidean metric, both
// evaluated tile by tile on the SIMD kernels of package kernels.
package metric
