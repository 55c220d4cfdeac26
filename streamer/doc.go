// Package streamer keeps every core busy: a lock-free Chase-Lev
// work-stealing deque, a pool of long-lived workers that share jobs through
// it, and scope collection (which candidates lie within each query's radius)
// cut into tiles that run on the pool.
package streamer
