package metric

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func profileMetric(t *testing.T, ls float64) *Residual {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 1200*4)
	for i := range x {
		x[i] = r.Float64()
	}
	m, err := NewResidual(context.Background(), x, 1200, 4, ResidualConfig{Lengthscale: []float64{ls}, Inducing: 64, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestProfile: a profile records the float32 error of the sampled pairs
// (its largest margin covers every sampled pair), survives a round trip
// through JSON, and merges by adding histograms; foreign or malformed
// profiles are refused.
func TestProfile(t *testing.T) {
	m := profileMetric(t, 0.5)
	p, err := m.BuildProfile(context.Background(), 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pairs != 30*1199 {
		t.Fatalf("%d pairs, want %d", p.Pairs, 30*1199)
	}
	// The margins at q = 1 hold every sampled pair within the radius.
	w := NewWorkspace()
	d64, d32 := make([]float64, 1200), make([]float64, 1200)
	m.Tile(w, d64, 1200, m.Data(), Range(7, 8), m.Data(), Range(0, 1200))
	m.tile32(w, d32, 1200, m.Data(), Range(7, 8), m.Data(), Range(0, 1200))
	p7 := m.emptyProfile(0)
	for j := range d64 {
		if j != 7 {
			p7.add(d64[j], d32[j])
		}
	}
	for _, rad := range []float64{0.3, 0.6, 0.95} {
		lo, hi := p7.Margins(rad, 1)
		for j := range d64 {
			if j != 7 && d64[j] < rad && (d32[j]-d64[j] > lo || d64[j]-d32[j] > hi) {
				t.Fatalf("radius %v: pair (7, %d) strays %v beyond margins %v/%v", rad, j, d32[j]-d64[j], lo, hi)
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteProfile(&buf, p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadProfile(bytes.NewReader(buf.Bytes()))
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip: %v", err)
	}
	p2, _ := m.BuildProfile(context.Background(), 20, 2)
	merged, err := MergeProfiles(p, p2)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Pairs != p.Pairs+p2.Pairs || merged.Bins[19].Pairs != p.Bins[19].Pairs+p2.Bins[19].Pairs {
		t.Fatalf("merge: %d pairs", merged.Pairs)
	}
	lo1, _ := p.Margins(1, 1)
	lo2, _ := p2.Margins(1, 1)
	if lo, _ := merged.Margins(1, 1); lo != max(lo1, lo2) {
		t.Fatalf("merged margin %v, parts %v %v", lo, lo1, lo2)
	}
	other, _ := profileMetric(t, 0.3).BuildProfile(context.Background(), 5, 1)
	if _, err := MergeProfiles(p, other); !errors.Is(err, ErrBadInput) {
		t.Fatalf("merge of another metric's profile: %v", err)
	}
	if err := other.Compatible(m); err == nil {
		t.Fatal("a profile of another lengthscale is compatible")
	}
	for _, bad := range []string{`{"schema": "other"}`, `{"schema": "pcct.gate-profile.v1", "bins": []}`, `{"schema": "pcct.gate-profile.v1", "bins": [{"radius": 1, "pos": [1]}]}`, `not json`} {
		if _, err := ReadProfile(strings.NewReader(bad)); !errors.Is(err, ErrBadInput) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if _, err := profileMetric(t, 0.5).BuildProfile(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
}
