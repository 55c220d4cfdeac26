package metric

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
)

// ProfileSchema is the version of the gate-profile file format.
const ProfileSchema = "pcct.gate-profile.v1"

// A GateProfile records, for the residual metric on one kind of data, how
// far the float32 distance d32 (the screening tile's) strays from the
// float64 distance d64 over pairs within a radius: per radius bin, a
// histogram of δ = d32 - d64 over the sampled pairs whose d64 falls in the
// bin. The lookup gate drops a candidate when d32 minus the quantile of δ
// over pairs within the query's radius exceeds that radius: an
// approximate gate (a pair whose δ lies beyond the quantile can be lost),
// tighter than the proven bound of screening. Profiles of the same kind of
// data merge by adding their histograms.
type GateProfile struct {
	Schema      string    `json:"schema"`
	N           int       `json:"n"` // points of the data the pairs came from (summed when merged)
	D           int       `json:"d"`
	Seed        uint64    `json:"seed"`
	Kernel      string    `json:"kernel"`
	Lengthscale []float64 `json:"lengthscale"`
	M           int       `json:"m"`
	Pairs       int64     `json:"pairs"`
	// Bins: pairs with d64 in [previous Radius, Radius).
	Bins []ProfileBin `json:"bins"`
}

// ProfileBin is one radius bin: the pairs' count, the histogram of δ
// (Pos[i]: δ in (0, 2^(i-40)], Neg[i]: -δ in (0, 2^(i-40)], Zero: δ = 0)
// and, for people, quantiles of δ over the pairs within this radius (this
// bin and all below it).
type ProfileBin struct {
	Radius    float64            `json:"radius"`
	Pairs     int64              `json:"pairs"`
	Zero      int64              `json:"zero"`
	Pos       []int64            `json:"pos"`
	Neg       []int64            `json:"neg"`
	Quantiles map[string]float64 `json:"quantiles_within"`
}

const (
	profileBuckets = 48 // 2^-40 ... 2^7
	profileMinExp  = -40
)

// profileRadii are the bins' upper edges.
var profileRadii = func() []float64 {
	var r []float64
	for i := 1; i <= 20; i++ {
		r = append(r, float64(i)*0.05)
	}
	return append(r, 2) // residual distances are at most 1; the last bin takes the rest
}()

func bucket(x float64) int {
	_, e := math.Frexp(x) // x = f 2^e, f in [0.5, 1): x <= 2^e
	return min(max(e-profileMinExp, 0), profileBuckets-1)
}

func bucketEdge(i int) float64 { return math.Ldexp(1, i+profileMinExp) }

// BuildProfile samples pairs of the metric's points (rows query points,
// each against every point) and records δ = d32 - d64 by radius. The
// metric needs screening enabled. seed picks the rows.
func (r *Residual) BuildProfile(ctx context.Context, rows int, seed uint64) (*GateProfile, error) {
	if !r.screen {
		return nil, badInput("gate profile: enable screening first (EnableScreening)")
	}
	data := r.data
	n := data.N
	rows = min(max(rows, 1), n)
	rng := rand.New(rand.NewPCG(seed, 0x9a7e))
	ids := make([]int32, rows)
	for k, p := range rng.Perm(n)[:rows] {
		ids[k] = int32(p)
	}
	slices.Sort(ids)
	p := r.emptyProfile(seed)
	w := NewWorkspace()
	const chunk = 4096
	d64 := make([]float64, chunk)
	d32 := make([]float64, chunk)
	for _, i := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q := Range(int(i), int(i)+1)
		for c0 := 0; c0 < n; c0 += chunk {
			c := Range(c0, min(n, c0+chunk))
			nc := c.Len()
			r.Tile(w, d64, nc, data, q, data, c)
			r.tile32(w, d32, nc, data, q, data, c)
			for j := range nc {
				if c0+j != int(i) {
					p.add(d64[j], d32[j])
				}
			}
		}
	}
	p.N = n
	p.summarise()
	return p, nil
}

func (r *Residual) emptyProfile(seed uint64) *GateProfile {
	ls := slices.Clone(r.scale)
	p := &GateProfile{Schema: ProfileSchema, D: r.d, Seed: seed, Kernel: r.kernel.String(), Lengthscale: ls, M: r.m}
	for _, rad := range profileRadii {
		p.Bins = append(p.Bins, ProfileBin{Radius: rad, Pos: make([]int64, profileBuckets), Neg: make([]int64, profileBuckets)})
	}
	return p
}

func (p *GateProfile) add(d64, d32 float64) {
	if math.IsNaN(d64) || math.IsNaN(d32) {
		return
	}
	b := &p.Bins[min(len(p.Bins)-1, sort64(profileRadii, d64))]
	b.Pairs++
	p.Pairs++
	switch delta := d32 - d64; {
	case delta > 0:
		b.Pos[bucket(delta)]++
	case delta < 0:
		b.Neg[bucket(-delta)]++
	default:
		b.Zero++
	}
}

// sort64 returns the first index with radii[i] > x.
func sort64(radii []float64, x float64) int {
	i, _ := slices.BinarySearch(radii, x)
	for i < len(radii) && radii[i] <= x {
		i++
	}
	return i
}

// quantileLevels are the quantiles a profile reports and lookup accepts.
var quantileLevels = []float64{0.5, 0.9, 0.99, 0.999, 1}

// Margins returns, for a query radius r and a quantile level q, how much
// d32 may exceed d64 (lo) and fall short of it (hi) among the profile's
// pairs within r, as the upper bucket edges of the q-quantiles of δ and
// of -δ (0 where none of them strays that way).
func (p *GateProfile) Margins(r, q float64) (lo, hi float64) {
	var pos, neg []int64
	var total int64
	for _, b := range p.Bins {
		if len(pos) == 0 {
			pos, neg = make([]int64, len(b.Pos)), make([]int64, len(b.Neg))
		}
		for i := range b.Pos {
			pos[i] += b.Pos[i]
			neg[i] += b.Neg[i]
		}
		total += b.Pairs
		if b.Radius >= r {
			break
		}
	}
	return tailEdge(pos, total, q), tailEdge(neg, total, q)
}

// tailEdge returns the upper edge of the bucket holding the q-quantile of
// the positive tail whose histogram is h, out of total values (the rest
// non-positive): 0 when the quantile is not in the tail.
func tailEdge(h []int64, total int64, q float64) float64 {
	var tail int64
	for _, c := range h {
		tail += c
	}
	// The values above the quantile: (1-q) total of them may be dropped.
	allowed := int64(math.Floor((1 - q) * float64(total)))
	if tail <= allowed {
		return 0
	}
	var above int64
	for i := len(h) - 1; i >= 0; i-- {
		above += h[i]
		if above > allowed {
			return bucketEdge(i)
		}
	}
	return 0
}

func (p *GateProfile) summarise() {
	for k := range p.Bins {
		p.Bins[k].Quantiles = map[string]float64{}
		for _, q := range quantileLevels {
			lo, hi := p.Margins(p.Bins[k].Radius, q)
			p.Bins[k].Quantiles[fmt.Sprintf("d32-d64 %g", q)] = lo
			p.Bins[k].Quantiles[fmt.Sprintf("d64-d32 %g", q)] = hi
		}
	}
}

// MergeProfiles adds the histograms of profiles of the same metric kind
// (dimension, kernel, lengthscales, inducing count); a mismatch is an
// error naming the field.
func MergeProfiles(ps ...*GateProfile) (*GateProfile, error) {
	if len(ps) == 0 {
		return nil, badInput("merge: no profiles")
	}
	out := *ps[0]
	out.Bins = nil
	for _, b := range ps[0].Bins {
		out.Bins = append(out.Bins, ProfileBin{Radius: b.Radius, Pos: make([]int64, len(b.Pos)), Neg: make([]int64, len(b.Neg))})
	}
	out.N, out.Pairs = 0, 0
	for k, p := range ps {
		switch {
		case p.Schema != ProfileSchema:
			return nil, badInput("merge: profile %d has schema %q, want %q", k+1, p.Schema, ProfileSchema)
		case p.D != out.D || p.Kernel != out.Kernel || p.M != out.M || !slices.Equal(p.Lengthscale, out.Lengthscale):
			return nil, badInput("merge: profile %d is of another metric (d, kernel, lengthscale or m differ)", k+1)
		case len(p.Bins) != len(out.Bins):
			return nil, badInput("merge: profile %d has %d bins, want %d", k+1, len(p.Bins), len(out.Bins))
		}
		for i, b := range p.Bins {
			o := &out.Bins[i]
			if b.Radius != o.Radius || len(b.Pos) != len(o.Pos) || len(b.Neg) != len(o.Neg) {
				return nil, badInput("merge: profile %d's bin %d differs in layout", k+1, i)
			}
			o.Pairs, o.Zero = o.Pairs+b.Pairs, o.Zero+b.Zero
			for j := range b.Pos {
				o.Pos[j] += b.Pos[j]
				o.Neg[j] += b.Neg[j]
			}
		}
		out.N += p.N
		out.Pairs += p.Pairs
	}
	out.summarise()
	return &out, nil
}

// WriteProfile writes p as indented JSON.
func WriteProfile(w io.Writer, p *GateProfile) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(p)
}

// ReadProfile reads a profile, refusing other schemas and malformed bins.
func ReadProfile(r io.Reader) (*GateProfile, error) {
	var p GateProfile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, badInput("gate profile: %v", err)
	}
	if p.Schema != ProfileSchema {
		return nil, badInput("gate profile: schema %q, want %q", p.Schema, ProfileSchema)
	}
	if len(p.Bins) == 0 {
		return nil, badInput("gate profile: no bins")
	}
	for i, b := range p.Bins {
		if len(b.Pos) != profileBuckets || len(b.Neg) != profileBuckets || (i > 0 && !(b.Radius > p.Bins[i-1].Radius)) {
			return nil, badInput("gate profile: bin %d is malformed", i)
		}
	}
	return &p, nil
}

// Compatible reports an error unless the profile was made on the same
// kind of metric as r.
func (p *GateProfile) Compatible(r *Residual) error {
	if p.D != r.d || p.Kernel != r.kernel.String() || p.M != r.m || !slices.Equal(p.Lengthscale, r.scale) {
		return badInput("gate profile was made for d = %d, kernel %s, lengthscale %v, m = %d; this metric has d = %d, kernel %s, lengthscale %v, m = %d",
			p.D, p.Kernel, p.Lengthscale, p.M, r.d, r.kernel, r.scale, r.m)
	}
	return nil
}
