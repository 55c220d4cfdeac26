package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// Baselines are the names ParseBaselines accepts.
var Baselines = []string{"brute", "sequential", "gpboost"}

// ParseBaselines reads a comma list of baselines ("none" for none).
func ParseBaselines(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		switch b {
		case "none", "":
		case "brute", "sequential", "gpboost":
			out = append(out, b)
		default:
			return nil, fmt.Errorf("unknown baseline %q (want none, brute, sequential or gpboost, comma-separated)", b)
		}
	}
	return out, nil
}

// RunBaseline answers the k-NN of the queries qs over m's points the
// baseline's way and returns the answer and the time it took (build
// included):
//   - brute: exact blocked brute force on the pool, the ground truth;
//   - sequential: pcct's cover tree built one point at a time (insertion
//     batches of 1) and queried one query at a time, on one worker;
//   - gpboost: the re-creation of GPBoost's cover tree (see gpTree), one
//     distance and one query at a time.
func RunBaseline(ctx context.Context, name string, m metric.Metric, qs *metric.Set, k int, pool *streamer.Pool) (*tree.Neighbours, time.Duration, error) {
	t0 := time.Now()
	switch name {
	case "brute":
		nb, err := tree.BruteKNN(ctx, m, qs, tree.KNNOptions{K: k, Pool: pool})
		return nb, time.Since(t0), err
	case "sequential":
		one := streamer.NewPool(1)
		defer one.Close()
		t, err := tree.Build(ctx, m, tree.Options{Algorithm: tree.Insertion, Batch: 1, Pool: one})
		if err != nil {
			return nil, 0, err
		}
		nb, _, err := t.KNN(ctx, qs, tree.KNNOptions{K: k, Pool: one, QueryBlock: 1})
		return nb, time.Since(t0), err
	case "gpboost":
		g, err := buildGP(ctx, m)
		if err != nil {
			return nil, 0, err
		}
		ids := make([]int32, qs.N*k)
		ds := make([]float64, qs.N*k)
		for q := range qs.N {
			if q%64 == 0 && ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			id, d := g.knn(qs, q, k, int32(m.Data().N))
			for p := range k {
				ids[q*k+p], ds[q*k+p] = -1, math.Inf(1)
				if p < len(id) {
					ids[q*k+p], ds[q*k+p] = id[p], d[p]
				}
			}
		}
		return tree.NewNeighbours(qs.N, k, ids, ds), time.Since(t0), nil
	}
	return nil, 0, fmt.Errorf("unknown baseline %q", name)
}

// Recall returns recall@k of got against want: the mean, over rows, of the
// fraction of want's neighbours (padding excluded) that got also has.
func Recall(got, want *tree.Neighbours) float64 {
	if got.N() == 0 {
		return 1
	}
	total := 0.0
	for i := range want.N() {
		wi, _ := want.Row(i)
		gi, _ := got.Row(i)
		have := map[int32]bool{}
		for _, j := range gi {
			have[j] = true
		}
		hit, all := 0, 0
		for _, j := range wi {
			if j < 0 {
				continue
			}
			all++
			if have[j] {
				hit++
			}
		}
		if all == 0 {
			total++
		} else {
			total += float64(hit) / float64(all)
		}
	}
	return total / float64(want.N())
}
