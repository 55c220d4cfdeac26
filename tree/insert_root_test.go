package tree

import (
	"bytes"
	"context"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestInsertRootScopes: an Insert whose new points find their scopes among
// the root's children in the root pass (insert_root.go, forced on small
// trees) makes the tree, bit for bit, that the batches alone make, and so
// does a build by insertion (a pass each time the tree doubles, among the
// children the root gained so far); the pass's pivots rule pairs out; the
// trees are sound and answer exactly. Both metrics; in the offset case the
// new points lie beyond the old ones, so that the insertion raises the
// root and the pass's scopes stop serving it. The traversal's bookkeeping
// runs on the pool in small chunks here.
func TestInsertRootScopes(t *testing.T) {
	const n0, n, d = 500, 1500, 2
	defer func(c, g, p, b, s, k int) {
		rootChildren, rootGroup, rootPivots, rootBlock, rootDensity, stepChunk = c, g, p, b, s, k
	}(rootChildren, rootGroup, rootPivots, rootBlock, rootDensity, stepChunk)
	rootDensity = 1
	stepChunk = 5 // the traversal's bookkeeping on the pool, too
	for _, shape := range []string{"uniform", "clustered", "offset"} {
		x := shapes(n, d, 5)[shape]
		if shape == "offset" {
			x = shapes(n, d, 5)["uniform"]
			for i := n0 * d; i < n*d; i++ {
				x[i] += 3 // beyond the first points' cover (Euclidean)
			}
		}
		for _, name := range []string{"residual", "euclidean"} {
			if shape == "offset" && name == "residual" {
				continue
			}
			t.Run(shape+"/"+name, func(t *testing.T) {
				over := func(k int) metric.Metric {
					if name == "euclidean" {
						e, err := metric.NewEuclidean(x[:k*d], k, d)
						if err != nil {
							t.Fatal(err)
						}
						return e
					}
					return prefixResidual(t, x, k, d)
				}
				// Insert, then the build by insertion, each without and with
				// the root pass.
				grow := func(pass int) *Tree {
					tr := buildOrFail(t, over(n0), Options{})
					lvl0 := tr.level[tr.root]
					if err := tr.Insert(context.Background(), over(n), Options{Batch: 64, Workers: 3}); err != nil {
						t.Fatal(err)
					}
					if shape == "offset" && tr.level[tr.root] <= lvl0 {
						t.Fatalf("the root stayed at level %d", lvl0)
					}
					if pass == 1 {
						exactAnswers(t, tr, 7)
					}
					return tr
				}
				build := func(int) *Tree {
					return buildOrFail(t, over(n), Options{Algorithm: Insertion, Batch: 64, Workers: 3})
				}
				for _, way := range []struct {
					name string
					make func(pass int) *Tree
				}{{"insert", grow}, {"insertion build", build}} {
					var saved [2][]byte
					var pruned [2]int64
					for pass := range 2 {
						rootChildren, rootGroup, rootPivots, rootBlock = 1<<30, 128, 16, 16
						if pass == 1 {
							rootChildren, rootGroup, rootPivots, rootBlock = 4, 48, 4, 8
						}
						tr := way.make(pass)
						if errs := tr.Check(); len(errs) > 0 {
							t.Fatalf("%s, pass %d: %d violations, first %v", way.name, pass, len(errs), errs[0])
						}
						var buf bytes.Buffer
						if err := tr.Save(&buf); err != nil {
							t.Fatal(err)
						}
						saved[pass], pruned[pass] = buf.Bytes(), tr.Stats.GatePruned
					}
					if !bytes.Equal(saved[0], saved[1]) {
						t.Fatalf("%s: the root pass changed the tree", way.name)
					}
					if shape != "offset" && pruned[1] <= pruned[0] {
						t.Fatalf("%s: the root pass ruled nothing out: %d pairs pruned against %d without it", way.name, pruned[1], pruned[0])
					}
				}
			})
		}
	}
}
