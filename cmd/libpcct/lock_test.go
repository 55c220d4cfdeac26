//go:build cgo

package main

import (
	"context"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/tree"
)

// TestLockProbed: a search with the auto gate holds a handle without the
// float32 copy alone until one such search (the same job and search) has
// left it without the copy; from then on searches of that kind with k at
// least its k share it, those with a smaller k or of another kind still
// hold it alone; a failed search records nothing, and once the metric has
// the copy every search shares it.
func TestLockProbed(t *testing.T) {
	x := make([]float64, 400)
	for i := range x {
		x[i] = float64(i*37%101) / 101
	}
	r, err := metric.NewResidual(context.Background(), x, 200, 2, metric.ResidualConfig{Lengthscale: []float64{0.3}, Inducing: 16})
	if err != nil {
		t.Fatal(err)
	}
	mh := &metricHandle{m: r}
	steps := []struct {
		gate  tree.Gate
		job   jobKind
		k     int64
		done  bool
		alone bool
	}{
		{tree.GateAuto, queryPoints, 8, false, true}, // failed: nothing recorded
		{tree.GateAuto, queryPoints, 8, true, true},  // records k = 8
		{tree.GateAuto, queryPoints, 8, true, false},
		{tree.GateAuto, queryPoints, 30, true, false},
		{tree.GateAuto, queryPoints, 4, true, true}, // records k = 4
		{tree.GateAuto, queryPoints, 5, true, false},
		{tree.GateAuto, predecessors, 30, true, true},
		{tree.GateOff, allPoints, 30, true, false},
	}
	for i, s := range steps {
		unlock, alone := mh.lock(s.gate, s.job, tree.SearchBrute, s.k)
		unlock(s.done)
		if alone != s.alone {
			t.Fatalf("step %d %+v: alone %v", i, s, alone)
		}
	}
	if _, alone := mh.lock(tree.GateAuto, allPoints, tree.SearchTree, 8); !alone {
		t.Fatal("another search of the same job shared the handle")
	} else {
		mh.mu.Unlock()
	}
	if err := r.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	unlock, alone := mh.lock(tree.GateAuto, allPoints, tree.SearchTree, 8)
	unlock(true)
	if alone || mh.probed[allPoints][tree.SearchTree].Load() != 0 {
		t.Fatalf("a screened metric held alone (%v) or marked", alone)
	}
}
