// Package streamer keeps every core busy: a lock-free Chase-Lev
// work-stealing deque and a pool of long-lived workers that share jobs
// through it, with per-worker accounting, cancellation and recovered
// panics. It imports no other pcct package; scope collection, which runs on
// the pool, lives in streamer/scope.
package streamer
