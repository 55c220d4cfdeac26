package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/tree"
)

// writeGpGp writes the answer as the NNarray that R's Vecchia packages
// (GpGp, GPvecchia, VeccTMVN) take: n rows of k+1 1-based indices, row i
// holding i and then its neighbours nearest first, NA where a point has
// fewer than k. As .csv (no header, "NA"), or as a float64 .npy (NaN for
// NA, which R reads as missing).
func writeGpGp(w io.Writer, nb *tree.Neighbours, npy bool) error {
	n, k := nb.N(), nb.K()
	if npy {
		a := make([]float64, n*(k+1))
		for i := range n {
			ids, _ := nb.Row(i)
			a[i*(k+1)] = float64(i + 1)
			for p, j := range ids {
				v := math.NaN()
				if j >= 0 {
					v = float64(j + 1)
				}
				a[i*(k+1)+1+p] = v
			}
		}
		return dataio.WriteNpy(w, a, n, k+1)
	}
	bw := bufio.NewWriter(w)
	for i := range n {
		ids, _ := nb.Row(i)
		bw.WriteString(strconv.Itoa(i + 1))
		for _, j := range ids {
			bw.WriteByte(',')
			if j < 0 {
				bw.WriteString("NA")
			} else {
				bw.WriteString(strconv.Itoa(int(j) + 1))
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// fitSample is the number of point pairs fitWarning looks at.
const fitSample = 512

// fitWarning returns a warning when the residual metric's sampled
// distances show that the lengthscale does not fit the coordinates:
// nearly every pair at distance 1 (no correlation left), so that the
// neighbours would be decided by ties and rounding. "" otherwise.
func fitWarning(m metric.Metric, lengthscale string) string {
	r, ok := m.(*metric.Residual)
	if !ok {
		return ""
	}
	data := r.Data()
	n := data.N
	if n < 3 {
		return ""
	}
	a, b := make([]int32, 0, fitSample), make([]int32, 0, fitSample)
	for s := range fitSample {
		i := int32(uint64(s) * uint64(n) / fitSample)
		j := int32((uint64(i)*2654435761 + 1) % uint64(n))
		if i != j {
			a, b = append(a, i), append(b, j)
		}
	}
	w := metric.NewWorkspace()
	var one [1]float64
	saturated := 0
	for k := range a {
		r.Tile(w, one[:], 1, data, metric.List(a[k:k+1]), data, metric.List(b[k:k+1]))
		if one[0] >= 1-1e-6 {
			saturated++
		}
	}
	if saturated*100 >= 99*len(a) {
		return fmt.Sprintf("%d of %d sampled pairs of points are at distance 1 (no residual correlation left): "+
			"the lengthscale %s is small against the spacing of the points, so the neighbours are decided by ties; "+
			"check the coordinates' units and --lengthscale", saturated, len(a), lengthscale)
	}
	return ""
}

// describeScreen summarises a screened search.
func describeScreen(st tree.ScreenStats, gate tree.Gate) string {
	how := "in float32"
	if gate == tree.GateBound {
		how = "by their pivot bounds"
	}
	switch {
	case st.Cheap:
		return "off: this metric's distance costs less per pair than the pivot bound, so the search ran without it"
	case st.Screened == 0 && st.ProbeLimit > 0 && st.Probe > st.ProbeLimit:
		return fmt.Sprintf("off: the probe found %.1f %% of a sample's candidates undecidable %s (above %g %%), so the search ran in float64", 100*st.Probe, how, 100*st.ProbeLimit)
	case st.Screened == 0:
		return "not used (the search computed no screenable tile: the k-d tree, or the cover tree on data with structure under the auto gate)"
	}
	return fmt.Sprintf("%d pairs screened %s, %.3f %% recomputed in float64, %d pairs in float64 tiles (probe %.2f %%)",
		st.Screened, how, 100*float64(st.Recomputed)/float64(st.Screened), st.Full, 100*st.Probe)
}
