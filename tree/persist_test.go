package tree

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestSaveLoad: a saved tree loads as the same tree, answers the same, and
// truncated, altered, foreign or mismatched files are errors, never panics.
func TestSaveLoad(t *testing.T) {
	for _, m := range testMetrics(t, 500, 2) {
		tr := buildOrFail(t, m, Options{})
		var buf bytes.Buffer
		if err := tr.Save(&buf); err != nil {
			t.Fatal(err)
		}
		file := buf.Bytes()
		back, err := Load(bytes.NewReader(file), m)
		if err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
		if err := sameTree(tr, back); err != nil {
			t.Fatalf("%s: loaded tree: %v", m.Name(), err)
		}
		if errs := back.Check(); len(errs) > 0 {
			t.Fatalf("%s: loaded tree: %v", m.Name(), errs[0])
		}
		a, _, _ := tr.AllKNN(context.Background(), KNNOptions{K: 5, Predecessor: true})
		b, _, err := back.AllKNN(context.Background(), KNNOptions{K: 5, Predecessor: true})
		if err != nil || !a.Equal(b) {
			t.Fatalf("%s: loaded tree answers differently (%v)", m.Name(), err)
		}
		for _, cut := range []int{0, 5, 12, 100, len(file) / 2, len(file) - 1} {
			if _, err := Load(bytes.NewReader(file[:cut]), m); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: truncated at %d: %v", m.Name(), cut, err)
			}
		}
		for _, at := range []int{3, 9, 20, 60, len(file) / 3, len(file) - 40, len(file) - 3} {
			bad := bytes.Clone(file)
			bad[at] ^= 0x40
			if _, err := Load(bytes.NewReader(bad), m); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMismatch) {
				t.Fatalf("%s: byte %d flipped: %v", m.Name(), at, err)
			}
		}
	}
	// Another metric over the same points, and other points.
	ms := testMetrics(t, 500, 2)
	var buf bytes.Buffer
	if err := buildOrFail(t, ms[0], Options{}).Save(&buf); err != nil {
		t.Fatal(err)
	}
	for _, other := range []metric.Metric{ms[1], ms[2], testMetrics(t, 499, 2)[0]} {
		if _, err := Load(bytes.NewReader(buf.Bytes()), other); !errors.Is(err, ErrMismatch) {
			t.Fatalf("loaded over %s: %v, want ErrMismatch", other.Name(), err)
		}
	}
}

// FuzzLoad: no input makes Load panic.
func FuzzLoad(f *testing.F) {
	m, err := metric.NewEuclidean(uniformPoints(40, 2, 1), 40, 2)
	if err != nil {
		f.Fatal(err)
	}
	tr, err := Build(context.Background(), m, Options{})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	tr.Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(fileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if tr, err := Load(bytes.NewReader(data), m); err == nil {
			tr.AllKNN(context.Background(), KNNOptions{K: 3})
		}
	})
}
