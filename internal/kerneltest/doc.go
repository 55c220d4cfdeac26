// Package kerneltest holds the test helpers that the kernels' tests and the
// tests of every package above them share: running a test under each kernel
// implementation as subtests, guard values and guard pages around buffers,
// and checks that no goroutine is left behind. It imports no pcct package,
// so that package kernels' own tests can use it; package every binds it to
// the kernels' registry for the packages above.
package kerneltest
