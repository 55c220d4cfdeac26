package tree

import (
	"fmt"
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// Check verifies the tree's invariants against freshly computed distances
// and returns every violation found (nil for a sound tree):
//   - every point is one node, reached from the root exactly once;
//   - covering: d(z, parent) <= base^level(parent), and the stored distance
//     to the parent is the computed one;
//   - levels strictly decrease from parent to child;
//   - separation: children that one net step made (same parent, same scale
//     s) are more than base^s from each other and from the parent (exact
//     duplicates, hung as leaves at distance 0, are exempt: they cannot be
//     separated; so are leaves hung flat where a net covered almost
//     nothing, see Build);
//   - reach(x) >= d(parent(x), y) for x and every descendant y of x;
//   - radius(z) >= d(z, y) for every descendant y, minDesc(z) = the lowest
//     descendant index, subtree sizes and the depth-first order agree.
//
// It computes O(n depth) distances plus the sibling pairs: for tests.
func (t *Tree) Check() []error {
	var errs []error
	bad := func(format string, a ...any) {
		if len(errs) < 50 {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	n := t.N()
	data := t.m.Data()
	w := metric.NewWorkspace()
	var one [1]float64
	dist := func(a, b int32) float64 {
		t.m.Tile(w, one[:], 1, data, metric.Range(int(a), int(a)+1), data, metric.Range(int(b), int(b)+1))
		return one[0]
	}
	if len(t.order) != n {
		bad("depth-first order has %d nodes, want %d", len(t.order), n)
	}
	seen := make([]bool, n)
	for _, z := range t.order {
		if seen[z] {
			bad("node %d reached twice", z)
		}
		seen[z] = true
	}
	for z := range n {
		if !seen[z] {
			bad("point %d is not in the tree", z)
		}
	}
	if t.parent[t.root] != -1 {
		bad("root %d has parent %d", t.root, t.parent[t.root])
	}
	maxD := make([]float64, n)
	minD := make([]int32, n)
	for z := range n {
		minD[z] = noDesc
	}
	for _, y := range t.order {
		x := y // the child of a on the path to y
		for a := t.parent[y]; a >= 0; x, a = a, t.parent[a] {
			d := dist(a, y)
			maxD[a] = max(maxD[a], d)
			minD[a] = min(minD[a], y)
			if d > t.reach[x] {
				bad("reach: d(%d, %d) = %v beyond reach %v of %d under %d", a, y, d, t.reach[x], x, a)
			}
		}
	}
	for z := int32(0); int(z) < n; z++ {
		p := t.parent[z]
		if p < 0 && z != t.root {
			bad("node %d has no parent but is not the root", z)
			continue
		}
		if p >= 0 {
			d := dist(z, p)
			if math.Float64bits(d) != math.Float64bits(t.dparent[z]) {
				bad("node %d: stored distance to parent %v, computed %v", z, t.dparent[z], d)
			}
			if t.level[z] >= t.level[p] {
				bad("node %d at level %d under parent %d at level %d", z, t.level[z], p, t.level[p])
			}
			if d > t.cover(t.level[p]) {
				bad("covering: d(%d, parent %d) = %v > base^%d", z, p, d, t.level[p])
			}
		}
		if t.radius[z] < maxD[z] {
			bad("node %d: radius %v below its farthest descendant %v", z, t.radius[z], maxD[z])
		}
		if t.minDesc[z] != minD[z] {
			bad("node %d: minDesc %d, want %d", z, t.minDesc[z], minD[z])
		}
		if len(t.Children(int(z))) == 0 && t.level[z] != leafLevel {
			bad("leaf %d has level %d", z, t.level[z])
		}
		t.checkSeparation(z, dist, bad)
	}
	return errs
}

// checkSeparation checks the children of z that one net step made.
func (t *Tree) checkSeparation(z int32, dist func(a, b int32) float64, bad func(string, ...any)) {
	ch := t.Children(int(z))
	for a, x := range ch {
		s := t.scale[x]
		if s == flatScale {
			continue // hung flat by a net step that covered almost nothing
		}
		if s == leafLevel {
			if t.dparent[x] != 0 {
				bad("node %d hangs as a duplicate of %d at distance %v", x, z, t.dparent[x])
			}
			continue
		}
		if t.dparent[x] <= t.cover(s) {
			bad("separation: child %d of %d at %v, within base^%d", x, z, t.dparent[x], s)
		}
		for _, y := range ch[a+1:] {
			if t.scale[y] == s {
				if d := dist(x, y); d <= t.cover(s) {
					bad("separation: children %d and %d of %d at %v, within base^%d", x, y, z, d, s)
				}
			}
		}
	}
}
