package streamer

import "sync/atomic"

// Deque is a Chase-Lev work-stealing deque of uint64 values (Chase and Lev,
// SPAA 2005; the memory orders of Lê et al., PPoPP 2013, all of which Go's
// sequentially consistent atomics provide). One goroutine, the owner, calls
// Push and Pop at the bottom; any goroutine may call Steal at the top. The
// ring grows when full; an old ring stays valid for thieves still reading it
// (the garbage collector frees it). There is no mutex: every access is an
// atomic load, store or compare-and-swap.
type Deque struct {
	top    atomic.Int64
	_      [56]byte // keep thieves' top and the owner's bottom on separate cache lines
	bottom atomic.Int64
	ring   atomic.Pointer[ring]
}

type ring struct {
	mask  int64
	slots []atomic.Uint64
}

func newRing(size int64) *ring {
	return &ring{mask: size - 1, slots: make([]atomic.Uint64, size)}
}

// NewDeque returns an empty deque with room for 2^logSize values before it
// first grows.
func NewDeque(logSize int) *Deque {
	d := &Deque{}
	d.ring.Store(newRing(1 << max(logSize, 1)))
	return d
}

// Len returns the number of values in the deque (a snapshot).
func (d *Deque) Len() int {
	return int(max(d.bottom.Load()-d.top.Load(), 0))
}

// Push adds v at the bottom. Owner only.
func (d *Deque) Push(v uint64) {
	b := d.bottom.Load()
	t := d.top.Load()
	r := d.ring.Load()
	if b-t >= int64(len(r.slots))-1 {
		r = d.grow(r, t, b)
	}
	r.slots[b&r.mask].Store(v)
	d.bottom.Store(b + 1)
}

// grow doubles the ring, copying the live values [t, b).
func (d *Deque) grow(old *ring, t, b int64) *ring {
	r := newRing(2 * int64(len(old.slots)))
	for i := t; i < b; i++ {
		r.slots[i&r.mask].Store(old.slots[i&old.mask].Load())
	}
	d.ring.Store(r)
	return r
}

// Pop removes and returns the bottom value (last in, first out). Owner only.
func (d *Deque) Pop() (uint64, bool) {
	b := d.bottom.Load() - 1
	r := d.ring.Load()
	d.bottom.Store(b)
	t := d.top.Load()
	if t > b { // empty
		d.bottom.Store(b + 1)
		return 0, false
	}
	v := r.slots[b&r.mask].Load()
	if t < b {
		return v, true
	}
	// The last value: race the thieves for it.
	ok := d.top.CompareAndSwap(t, t+1)
	d.bottom.Store(b + 1)
	return v, ok
}

// Steal removes and returns the top value (first in, first out). Any
// goroutine. It fails when the deque is empty or another thief or the owner
// won the race for the value.
func (d *Deque) Steal() (uint64, bool) {
	t := d.top.Load()
	b := d.bottom.Load()
	if t >= b {
		return 0, false
	}
	r := d.ring.Load()
	v := r.slots[t&r.mask].Load()
	if !d.top.CompareAndSwap(t, t+1) {
		return 0, false
	}
	return v, true
}
