//go:build !race

package tree

// raceDetector: built with -race (see race_test.go).
const raceDetector = false
