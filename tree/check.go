package tree

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// Check verifies the tree's invariants against freshly computed distances
// and returns every violation found (nil for a sound tree):
//   - every point is one node, reached from the root exactly once, and
//     every node's parents lead to the root (a cycle of parents or a parent
//     outside the tree ends the check there: the checks after it walk up);
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
//     descendant index (Options.Rank's, for a tree built with one);
//   - leaves are at the leaf level.
//
// It returns at most 50 violations, and computes O(n depth) distances plus
// the sibling pairs: for tests.
func (t *Tree) Check() []error {
	c := &checker{t: t, w: metric.NewWorkspace()}
	c.order()
	if !c.acyclic() {
		return c.errs // the checks below walk up to the root
	}
	maxD, minD := c.descendants()
	for z := int32(0); int(z) < t.N(); z++ {
		c.node(z, maxD[z], minD[z])
		c.separation(z)
	}
	return c.errs
}

// checker gathers Check's violations (the first 50) and computes its
// distances through the tile code.
type checker struct {
	t    *Tree
	errs []error
	w    *metric.Workspace
	one  [1]float64
	sib  []int32   // separation's siblings
	tile []float64 // pairs' tiles
}

func (c *checker) bad(format string, a ...any) {
	if len(c.errs) < 50 {
		c.errs = append(c.errs, fmt.Errorf(format, a...))
	}
}

func (c *checker) dist(a, b int32) float64 {
	data := c.t.m.Data()
	c.t.m.Tile(c.w, c.one[:], 1, data, metric.Range(int(a), int(a)+1), data, metric.Range(int(b), int(b)+1))
	return c.one[0]
}

// order checks that the depth-first order holds every point once and that
// the root has no parent.
func (c *checker) order() {
	t, n := c.t, c.t.N()
	if len(t.order) != n {
		c.bad("depth-first order has %d nodes, want %d", len(t.order), n)
	}
	seen := make([]bool, n)
	for _, z := range t.order {
		if seen[z] {
			c.bad("node %d reached twice", z)
		}
		seen[z] = true
	}
	for z := range n {
		if !seen[z] {
			c.bad("point %d is not in the tree", z)
		}
	}
	if t.parent[t.root] != -1 {
		c.bad("root %d has parent %d", t.root, t.parent[t.root])
	}
}

// acyclic reports whether every node's parents lead to a root, and
// reports a parent outside the tree or a cycle of parents.
func (c *checker) acyclic() bool {
	t, n := c.t, int32(c.t.N())
	const unseen, onPath, toRoot = 0, 1, 2
	state := make([]uint8, n)
	var path []int32
	for z := range n {
		path = path[:0]
		a := z
		for a >= 0 && state[a] == unseen {
			state[a] = onPath
			path = append(path, a)
			if a = t.parent[a]; a >= n {
				c.bad("node %d: parent %d outside the tree", path[len(path)-1], a)
				return false
			}
		}
		if a >= 0 && state[a] == onPath {
			c.bad("node %d: its parents form a cycle through %d", z, a)
			return false
		}
		for _, p := range path {
			state[p] = toRoot
		}
	}
	return true
}

// descendants walks from every node up to the root, checking each
// ancestor's child's reach on the way, and returns each node's farthest
// descendant distance and lowest descendant index (noDesc for a leaf).
func (c *checker) descendants() (maxD []float64, minD []int32) {
	t, n := c.t, c.t.N()
	maxD, minD = make([]float64, n), make([]int32, n)
	for z := range n {
		minD[z] = noDesc
	}
	for _, y := range t.order {
		x := y // the child of a on the path to y
		for a := t.parent[y]; a >= 0; x, a = a, t.parent[a] {
			d := c.dist(a, y)
			maxD[a] = max(maxD[a], d)
			minD[a] = min(minD[a], t.key(y))
			if d > t.reach[x] {
				c.bad("reach: d(%d, %d) = %v beyond reach %v of %d under %d", a, y, d, t.reach[x], x, a)
			}
		}
	}
	return maxD, minD
}

// node checks z against its parent (the stored distance's bits, the
// levels, covering) and its own fields against its descendants' farthest
// distance maxD and lowest index minD.
func (c *checker) node(z int32, maxD float64, minD int32) {
	t := c.t
	p := t.parent[z]
	if p < 0 && z != t.root {
		c.bad("node %d has no parent but is not the root", z)
		return
	}
	if p >= 0 {
		d := c.dist(z, p)
		if math.Float64bits(d) != math.Float64bits(t.dparent[z]) {
			c.bad("node %d: stored distance to parent %v, computed %v", z, t.dparent[z], d)
		}
		if t.level[z] >= t.level[p] {
			c.bad("node %d at level %d under parent %d at level %d", z, t.level[z], p, t.level[p])
		}
		if d > t.cover(t.level[p]) {
			c.bad("covering: d(%d, parent %d) = %v > base^%d", z, p, d, t.level[p])
		}
	}
	if t.radius[z] < maxD {
		c.bad("node %d: radius %v below its farthest descendant %v", z, t.radius[z], maxD)
	}
	if t.minDesc[z] != minD {
		c.bad("node %d: minDesc %d, want %d", z, t.minDesc[z], minD)
	}
	if len(t.Children(int(z))) == 0 && t.level[z] != leafLevel {
		c.bad("leaf %d has level %d", z, t.level[z])
	}
}

// separation checks the children of z that one net step made: each farther
// than its scale from z, and the children of one scale pairwise, in tiles
// (the same distance bits as one pair at a time).
func (c *checker) separation(z int32) {
	t := c.t
	sib := c.sib[:0]
	for _, x := range t.Children(int(z)) {
		switch s := t.scale[x]; {
		case s == flatScale:
			// hung flat by a net step that covered almost nothing
		case s == leafLevel:
			if t.dparent[x] != 0 {
				c.bad("node %d hangs as a duplicate of %d at distance %v", x, z, t.dparent[x])
			}
		case t.dparent[x] <= t.cover(s):
			c.bad("separation: child %d of %d at %v, within base^%d", x, z, t.dparent[x], s)
			sib = append(sib, x)
		default:
			sib = append(sib, x)
		}
	}
	// The children of each scale, in their order among z's children.
	slices.SortStableFunc(sib, func(a, b int32) int { return cmp.Compare(t.scale[a], t.scale[b]) })
	for lo := 0; lo < len(sib); {
		hi := lo + 1
		for hi < len(sib) && t.scale[sib[hi]] == t.scale[sib[lo]] {
			hi++
		}
		c.pairs(z, sib[lo:hi])
		lo = hi
	}
	c.sib = sib
}

// sepBlock is the side of separation's tiles.
const sepBlock = 128

// pairs checks that the siblings g of z, of one scale, are pairwise
// farther apart than it, in tiles of sepBlock x sepBlock.
func (c *checker) pairs(z int32, g []int32) {
	t := c.t
	r := t.cover(t.scale[g[0]])
	data := t.m.Data()
	c.tile = grow(c.tile, sepBlock*sepBlock)
	for i0 := 0; i0 < len(g); i0 += sepBlock {
		rows := g[i0:min(len(g), i0+sepBlock)]
		for j0 := i0; j0 < len(g); j0 += sepBlock {
			cols := g[j0:min(len(g), j0+sepBlock)]
			t.m.Tile(c.w, c.tile, len(cols), data, metric.List(rows), data, metric.List(cols))
			for a, x := range rows {
				for b, y := range cols {
					if i0+a < j0+b && c.tile[a*len(cols)+b] <= r {
						c.bad("separation: children %d and %d of %d at %v, within base^%d", x, y, z, c.tile[a*len(cols)+b], t.scale[x])
					}
				}
			}
		}
	}
}
