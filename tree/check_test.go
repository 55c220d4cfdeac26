package tree

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestCheckFinds: Check reports each kind of violation planted in a sound
// tree (a fresh build each time), naming it.
func TestCheckFinds(t *testing.T) {
	const n, d = 400, 2
	x := uniformPoints(n, d, 11)
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// inner returns a node below the root with children of one net step
	// (at least two at the same scale), and two of them.
	inner := func(tr *Tree) (z, a, b int32) {
		for z := range int32(n) {
			if z == tr.root {
				continue
			}
			ch := tr.Children(int(z))
			for i, a := range ch {
				for _, b := range ch[i+1:] {
					if s := tr.scale[a]; s == tr.scale[b] && s != leafLevel && s != flatScale {
						return z, a, b
					}
				}
			}
		}
		t.Fatal("no node with two children of one net step")
		return
	}
	for _, c := range []struct {
		want  string
		plant func(tr *Tree)
	}{
		{"reached twice", func(tr *Tree) { tr.order[1] = tr.order[2] }},
		{"has parent", func(tr *Tree) { tr.parent[tr.root] = tr.order[1] }},
		{"form a cycle", func(tr *Tree) { tr.parent[tr.root] = tr.order[1] }}, // reported, not walked forever
		{"outside the tree", func(tr *Tree) { _, a, _ := inner(tr); tr.parent[a] = int32(n) }},
		{"no parent but is not the root", func(tr *Tree) { _, a, _ := inner(tr); tr.parent[a] = -1 }},
		{"stored distance to parent", func(tr *Tree) {
			_, a, _ := inner(tr)
			tr.dparent[a] = math.Nextafter(tr.dparent[a], 2)
		}},
		{"at level", func(tr *Tree) { z, a, _ := inner(tr); tr.level[a] = tr.level[z] }},
		{"covering", func(tr *Tree) { z, _, _ := inner(tr); tr.level[z] -= 8 }}, // its children now beyond base^level
		{"below its farthest descendant", func(tr *Tree) { z, _, _ := inner(tr); tr.radius[z] /= 2 }},
		{"minDesc", func(tr *Tree) { z, _, _ := inner(tr); tr.minDesc[z]++ }},
		{"beyond reach", func(tr *Tree) { _, a, _ := inner(tr); tr.reach[a] = 0 }},
		{"leaf", func(tr *Tree) {
			for z := range int32(n) {
				if len(tr.Children(int(z))) == 0 {
					tr.level[z] = 0
					return
				}
			}
		}},
		{"separation: children", func(tr *Tree) {
			// Two siblings of one net step closer than its radius: b moved
			// onto a's scale with a radius above their distance.
			_, a, b := inner(tr)
			d := (&checker{t: tr, w: metric.NewWorkspace()}).dist(a, b)
			for tr.cover(tr.scale[a]) < d {
				tr.scale[a]++
			}
			tr.scale[b] = tr.scale[a]
		}},
	} {
		tr := buildOrFail(t, m, Options{})
		c.plant(tr)
		errs := tr.Check()
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e.Error(), c.want)
		}
		if !found {
			t.Errorf("planted %q: Check found %v", c.want, errs)
		}
	}
}
