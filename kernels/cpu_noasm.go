//go:build !amd64 || purego

package kernels

// detectCPU registers nothing: only the generic kernels exist in this build.
func detectCPU() {}
