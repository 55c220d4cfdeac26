package tree

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// Errors of Load, matched with errors.Is.
var (
	// ErrCorrupt: the file is not a pcct tree, is truncated, or its
	// checksum or structure is wrong.
	ErrCorrupt = errors.New("corrupt tree file")
	// ErrMismatch: the file is a sound tree, but of other data or another
	// metric than the one given to Load.
	ErrMismatch = errors.New("tree file does not match the metric")
)

const (
	fileMagic   = "PCCTTREE"
	fileVersion = 3 // 2 added the reaches, 3 the Rank
)

// Fingerprint identifies a metric's data: a SHA-256 over the metric's name,
// the point count, dimension and factor width, the coordinates the metric
// reads (scaled by the lengthscales for the residual metric) and the
// residual variances p (which depend on the kernel, its parameters and the
// inducing points).
func Fingerprint(m metric.Metric) [32]byte {
	s := m.Data()
	h := sha256.New()
	io.WriteString(h, m.Name())
	binary.Write(h, binary.LittleEndian, [3]int64{int64(s.N), int64(s.D), int64(s.M)})
	binary.Write(h, binary.LittleEndian, s.X)
	binary.Write(h, binary.LittleEndian, s.P)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Save writes the tree in pcct's versioned binary format: a magic string,
// the version, the base, the metric's fingerprint, the node arrays, the
// Rank's length and entries (Options.Rank: 0 and none without one), and a
// SHA-256 of everything before it.
func (t *Tree) Save(w io.Writer) error {
	bw := bufio.NewWriter(w)
	h := sha256.New()
	out := io.MultiWriter(bw, h)
	put := func(v any) error { return binary.Write(out, binary.LittleEndian, v) }
	fp := Fingerprint(t.m)
	var rank []int32 // every point's key (Insert's points after a ranked build follow it)
	if t.rank != nil {
		rank = make([]int32, t.N())
		for i := range rank {
			rank[i] = t.key(int32(i))
		}
	}
	for _, v := range []any{[]byte(fileMagic), uint32(fileVersion), int64(t.N()), t.base, t.root, fp,
		t.level, t.scale, t.parent, t.dparent, t.radius, t.reach, t.minDesc, t.childOff, t.child,
		int64(len(rank)), rank} {
		if err := put(v); err != nil {
			return err
		}
	}
	if _, err := bw.Write(h.Sum(nil)); err != nil {
		return err
	}
	return bw.Flush()
}

// Load reads a tree that Save wrote, for the metric m it was built over. A
// truncated, altered or foreign file gives an error matching ErrCorrupt, a
// tree of other data or another metric one matching ErrMismatch; neither
// ever panics.
func Load(r io.Reader, m metric.Metric) (*Tree, error) {
	h := sha256.New()
	rd := &hashReader{r: bufio.NewReader(r), h: h}
	var magic [8]byte
	var version uint32
	var n int64
	if err := rd.get(&magic); err != nil || string(magic[:]) != fileMagic {
		return nil, fmt.Errorf("%w: not a pcct tree (bad magic)", ErrCorrupt)
	}
	if err := rd.get(&version); err != nil || version < 2 || version > fileVersion {
		return nil, fmt.Errorf("%w: version %d, this pcct reads versions 2 to %d", ErrCorrupt, version, fileVersion)
	}
	t := &Tree{m: m}
	var fp [32]byte
	if err := rd.getAll(&n, &t.base, &t.root, &fp); err != nil {
		return nil, err
	}
	if n != int64(m.Data().N) {
		return nil, fmt.Errorf("%w: the tree has %d points, the metric's data %d", ErrMismatch, n, m.Data().N)
	}
	t.level, t.scale, t.parent, t.minDesc = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	t.dparent, t.radius, t.reach = make([]float64, n), make([]float64, n), make([]float64, n)
	t.childOff = make([]int32, n+1)
	if err := rd.getAll(t.level, t.scale, t.parent, t.dparent, t.radius, t.reach, t.minDesc, t.childOff); err != nil {
		return nil, err
	}
	if c := t.childOff[n]; c < 0 || int64(c) != n-1 {
		return nil, fmt.Errorf("%w: %d child links for %d points", ErrCorrupt, c, n)
	}
	t.child = make([]int32, n-1)
	if err := rd.getAll(t.child); err != nil {
		return nil, err
	}
	if version >= 3 {
		if err := t.loadRank(rd); err != nil {
			return nil, err
		}
	}
	sum := h.Sum(nil)
	var stored [32]byte
	if _, err := io.ReadFull(rd.r, stored[:]); err != nil || string(stored[:]) != string(sum) {
		return nil, fmt.Errorf("%w: checksum mismatch or truncated file", ErrCorrupt)
	}
	if fp != Fingerprint(m) {
		return nil, fmt.Errorf("%w: it was built over other data or another metric (fingerprint differs)", ErrMismatch)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	t.slack = m.TriangleSlack()
	t.index(nil, nil)
	if len(t.order) != t.N() {
		return nil, fmt.Errorf("%w: %d of %d points reachable from the root", ErrCorrupt, len(t.order), t.N())
	}
	t.Stats.Depth = t.Depth()
	return t, nil
}

// loadRank reads the Rank's length and entries (version 3): none, or a
// permutation of the tree's n points, whose inverse it sets too.
func (t *Tree) loadRank(rd *hashReader) error {
	var nr int64
	if err := rd.getAll(&nr); err != nil {
		return err
	}
	switch {
	case nr == 0:
		return nil
	case nr != int64(t.N()):
		return fmt.Errorf("%w: a rank of %d entries for %d points", ErrCorrupt, nr, t.N())
	}
	t.rank = make([]int32, nr)
	if err := rd.getAll(t.rank); err != nil {
		return err
	}
	inv, err := metric.InversePerm(t.rank, t.N())
	if err != nil {
		return fmt.Errorf("%w: rank: %v", ErrCorrupt, err)
	}
	t.byKey = inv
	return nil
}

// validate checks what queries index by, so that a file that passes the
// checksum but was crafted cannot make them panic or loop.
func (t *Tree) validate() error {
	n := int32(t.N())
	if !(t.base > 1) || math.IsInf(t.base, 0) {
		return fmt.Errorf("base %v", t.base)
	}
	if t.root < 0 || t.root >= n || t.parent[t.root] != -1 {
		return fmt.Errorf("root %d", t.root)
	}
	for z := int32(0); z < n; z++ {
		if t.childOff[z] < 0 || t.childOff[z] > t.childOff[z+1] {
			return fmt.Errorf("children of %d", z)
		}
		if p := t.parent[z]; (p < 0 && z != t.root) || p >= n {
			return fmt.Errorf("parent of %d", z)
		}
		if math.IsNaN(t.radius[z]) || t.radius[z] < 0 || math.IsNaN(t.reach[z]) || t.reach[z] < 0 {
			return fmt.Errorf("radius or reach of %d", z)
		}
	}
	seen := make([]bool, n)
	for z := int32(0); z < n; z++ {
		for _, c := range t.child[t.childOff[z]:t.childOff[z+1]] {
			if c < 0 || c >= n || c == t.root || seen[c] || t.parent[c] != z {
				return fmt.Errorf("child %d of %d", c, z)
			}
			seen[c] = true
		}
	}
	return nil
}

// hashReader reads little-endian values and hashes every byte it reads.
type hashReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (hr *hashReader) get(v any) error {
	return binary.Read(io.TeeReader(hr.r, hr.h), binary.LittleEndian, v)
}

func (hr *hashReader) getAll(vs ...any) error {
	for _, v := range vs {
		if err := hr.get(v); err != nil {
			return fmt.Errorf("%w: truncated file", ErrCorrupt)
		}
	}
	return nil
}
