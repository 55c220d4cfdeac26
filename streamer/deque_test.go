package streamer

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestDequeModel drives one deque from one goroutine with random pushes,
// pops and steals and checks every answer against a slice model: Pop is
// LIFO at the bottom, Steal FIFO at the top.
func TestDequeModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := NewDeque(1) // tiny, so it grows often
	var model []uint64
	next := uint64(0)
	for step := 0; step < 200000; step++ {
		switch op := r.IntN(10); {
		case op < 5:
			d.Push(next)
			model = append(model, next)
			next++
		case op < 8:
			v, ok := d.Pop()
			if len(model) == 0 {
				if ok {
					t.Fatalf("step %d: Pop on empty returned %d", step, v)
				}
				continue
			}
			want := model[len(model)-1]
			model = model[:len(model)-1]
			if !ok || v != want {
				t.Fatalf("step %d: Pop = %d, %v; want %d", step, v, ok, want)
			}
		default:
			v, ok := d.Steal()
			if len(model) == 0 {
				if ok {
					t.Fatalf("step %d: Steal on empty returned %d", step, v)
				}
				continue
			}
			want := model[0]
			model = model[1:]
			if !ok || v != want {
				t.Fatalf("step %d: Steal = %d, %v; want %d", step, v, ok, want)
			}
		}
		if d.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, model %d", step, d.Len(), len(model))
		}
	}
}

// TestDequeConservation: one owner pushes and pops while several thieves
// steal; every value comes out exactly once. A small initial ring makes the
// owner grow it while thieves read.
func TestDequeConservation(t *testing.T) {
	const total = 200000
	for _, thieves := range []int{1, 3, 7} {
		d := NewDeque(2)
		seen := make([]atomic.Int32, total)
		var done atomic.Bool
		var wg sync.WaitGroup
		var stolen atomic.Int64
		for range thieves {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !done.Load() || d.Len() > 0 {
					if v, ok := d.Steal(); ok {
						seen[v].Add(1)
						stolen.Add(1)
					}
				}
			}()
		}
		r := rand.New(rand.NewPCG(3, uint64(thieves)))
		next := 0
		for next < total {
			burst := 1 + r.IntN(300) // bursts grow the ring past its size
			for k := 0; k < burst && next < total; k++ {
				d.Push(uint64(next))
				next++
			}
			for k := r.IntN(burst + 1); k > 0; k-- {
				if v, ok := d.Pop(); ok {
					seen[v].Add(1)
				}
			}
		}
		for {
			v, ok := d.Pop()
			if !ok {
				break
			}
			seen[v].Add(1)
		}
		done.Store(true)
		wg.Wait()
		for v := range seen {
			if c := seen[v].Load(); c != 1 {
				t.Fatalf("%d thieves: value %d came out %d times", thieves, v, c)
			}
		}
		if stolen.Load() == 0 {
			t.Logf("%d thieves: nothing was stolen (scheduling); conservation still held", thieves)
		}
	}
}

// Linearizability: random concurrent histories of one owner and two
// thieves, checked by porcupine against a sequential deque.

type dqInput struct {
	op  int // 0 push, 1 pop, 2 steal
	val uint64
}

type dqOutput struct {
	val uint64
	ok  bool
}

var dequeModel = porcupine.Model{
	Init: func() any { return []uint64{} },
	Step: func(state, input, output any) (bool, any) {
		s := state.([]uint64)
		in, out := input.(dqInput), output.(dqOutput)
		switch in.op {
		case 0:
			n := append(append([]uint64{}, s...), in.val)
			return true, n
		case 1:
			if len(s) == 0 {
				return !out.ok, s
			}
			if out.ok && out.val == s[len(s)-1] {
				return true, append([]uint64{}, s[:len(s)-1]...)
			}
			// A failed Pop is only legal on an empty deque.
			return false, s
		default:
			if !out.ok {
				// Steal may fail spuriously when it loses a race.
				return true, s
			}
			if len(s) > 0 && out.val == s[0] {
				return true, append([]uint64{}, s[1:]...)
			}
			return false, s
		}
	},
	Equal: func(a, b any) bool {
		x, y := a.([]uint64), b.([]uint64)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	},
}

func TestDequeLinearizable(t *testing.T) {
	histories := 300
	if testing.Short() {
		histories = 50
	}
	for h := 0; h < histories; h++ {
		d := NewDeque(1)
		var mu sync.Mutex
		var ops []porcupine.Operation
		record := func(client int, in dqInput, call int64, out dqOutput) {
			mu.Lock()
			ops = append(ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: time.Now().UnixNano()})
			mu.Unlock()
		}
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // owner
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(h), 7))
			for k := 0; k < 12; k++ {
				if r.IntN(3) < 2 {
					v := uint64(h*100 + k)
					call := time.Now().UnixNano()
					d.Push(v)
					record(0, dqInput{op: 0, val: v}, call, dqOutput{})
				} else {
					call := time.Now().UnixNano()
					v, ok := d.Pop()
					record(0, dqInput{op: 1}, call, dqOutput{v, ok})
				}
			}
		}()
		for c := 1; c <= 2; c++ {
			go func() {
				defer wg.Done()
				for k := 0; k < 6; k++ {
					call := time.Now().UnixNano()
					v, ok := d.Steal()
					record(c, dqInput{op: 2}, call, dqOutput{v, ok})
				}
			}()
		}
		wg.Wait()
		if !porcupine.CheckOperations(dequeModel, ops) {
			t.Fatalf("history %d is not linearizable: %v", h, ops)
		}
	}
}

func BenchmarkDequePushPop(b *testing.B) {
	d := NewDeque(8)
	for b.Loop() {
		d.Push(1)
		d.Pop()
	}
}

func BenchmarkDequeSteal(b *testing.B) {
	d := NewDeque(8)
	for b.Loop() {
		d.Push(1)
		d.Steal()
	}
}

func BenchmarkDequeStealContended(b *testing.B) {
	d := NewDeque(8)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			d.Steal()
		}
	}()
	for b.Loop() {
		d.Push(1)
		d.Pop()
	}
	stop.Store(true)
	wg.Wait()
}
