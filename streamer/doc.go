// Package streamer keeps every core busy: a lock-free Chase-Lev
// work-stealing deque and a pool of long-lived workers that share jobs
// through it, with per-worker accounting, cancellation and recovered
// panics, and a Trace of a pool's jobs that projects their wall time onto
// more workers than the machine has. It imports no other pcct package;
// scope collection, which runs on the pool, lives in streamer/scope.
package streamer
