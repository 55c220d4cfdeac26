//go:build race

package every

// raceDetector: built with -race.
const raceDetector = true
