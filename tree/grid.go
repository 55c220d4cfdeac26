package tree

import (
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// The grid conflict graph (Options.GridConflicts): for the Euclidean
// metric in up to gridMaxDim dimensions, a target's group of batch points
// is bucketed into cells of side h, an upper bound on every conflict
// radius the group can meet; two points in cells that are not neighbours
// (in some coordinate two or more cells apart) are farther than h apart,
// so only pairs in neighbouring cells get their real distance computed,
// and an edge is added only from that distance. The conflict decisions,
// and so the tree, are those of the full conflict tiles.

// gridMaxDim: 3^d neighbour cells; beyond, the full tile is cheaper.
const gridMaxDim = 4

// gridMin: smaller groups tile all their pairs. (Traversal spreads a
// batch over many targets: on 5000 clustered points in 2-D no group of
// the insertion build reached 40 points. Tests lower it.)
var gridMin = 64

// conflictRadius bounds the radius at which resolve can test the group's
// pairs: the target's next level down, or, when the target is a leaf or the
// root (whose level a member may set or raise), the largest such radius a
// member can cause.
func (in *inserter) conflictRadius(active []insertPlan, grp []int) float64 {
	t := in.t
	z := active[grp[0]].target()
	h := 0.0
	if lz := t.level[z]; lz != leafLevel {
		h = t.cover(lz - 1)
	} else {
		h = t.cover(dupLevel(t, z) - 1)
	}
	for _, a := range grp {
		if dz := active[a].dist(); dz > 0 {
			h = max(h, t.cover(levelFor(t.base, dz)-1))
		}
	}
	return h
}

// gridPairs returns the group's pair distances (row-major, group order):
// real distances for points in neighbouring cells of side h, +Inf for the
// others (proven farther than h). ok is false when the grid does not
// apply (another metric, too many dimensions, h not positive).
func (in *inserter) gridPairs(w int, ids []int32, h float64) (d []float64, cells int, ok bool) {
	data := in.t.m.Data()
	dim := data.D
	if in.t.m.Name() != "euclidean" || dim > gridMaxDim || !(h > 0) || math.IsInf(h, 0) {
		return nil, 0, false
	}
	side := h * (1 + 1e-6) // computed distances err far below 1e-6 relative
	type key [gridMaxDim]int64
	cellOf := func(p int32) (k key) {
		for c := range dim {
			k[c] = int64(math.Floor(data.X[int(p)*dim+c] / side))
		}
		return k
	}
	members := map[key][]int32{} // positions in ids
	keys := make([]key, len(ids))
	for i, p := range ids {
		keys[i] = cellOf(p)
		members[keys[i]] = append(members[keys[i]], int32(i))
	}
	n := len(ids)
	d = make([]float64, n*n)
	for i := range d {
		d[i] = math.Inf(1)
	}
	sc := in.ws[w]
	offsets := 1
	for range dim {
		offsets *= 3
	}
	for i, p := range ids {
		near := sc.ids[:0]
		var pos []int32
		for o := range offsets {
			k, rest := keys[i], o
			for c := range dim {
				k[c] += int64(rest%3) - 1
				rest /= 3
			}
			for _, j := range members[k] {
				near, pos = append(near, ids[j]), append(pos, j)
			}
		}
		sc.ids = near
		sc.d = grow(sc.d, len(near))
		in.t.m.Tile(sc.w, sc.d, len(near), data, metric.Range(int(p), int(p)+1), data, metric.List(near))
		in.dists.Add(int64(len(near)))
		for x, j := range pos {
			d[i*n+int(j)] = sc.d[x]
		}
	}
	return d, len(members), true
}
