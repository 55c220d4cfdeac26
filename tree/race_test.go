//go:build race

package tree

// raceDetector: built with -race. Under it the tests that check answers
// over many data sets take a few of them, and those that check distance
// counts rather than concurrency are skipped: the plain, purego and
// AVX-512-disabled passes run them whole (the race detector slows the
// tiles about tenfold; three runs of the whole package took CI's race step
// past twenty minutes on a 2-vCPU Cascade Lake VM).
const raceDetector = true
