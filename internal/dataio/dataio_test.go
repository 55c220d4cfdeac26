package dataio

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCSV(t *testing.T) {
	p := write(t, "p.csv", []byte("# comment\nx, y\n1, 2\n\n3,4.5\n-1e3,0\n"))
	x, n, d, err := ReadPoints(p)
	if err != nil || n != 3 || d != 2 || !slices.Equal(x, []float64{1, 2, 3, 4.5, -1000, 0}) {
		t.Fatalf("ReadPoints = %v %d %d %v", x, n, d, err)
	}
	for name, body := range map[string]string{
		"ragged.csv": "1,2\n3\n",
		"text.csv":   "1,2\n3,x\n",
		"only.csv":   "a,b\n",
		"nan.csv":    "1,2\nNaN,3\n",
	} {
		if _, _, _, err := ReadPoints(write(t, name, []byte(body))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestReadText: text files separated by spaces or tabs (numpy's savetxt,
// R's write.table, .tsv) read as their comma-separated twins do, whatever
// the extension; a comma on the first data line makes a file CSV; a UTF-8
// byte-order mark is skipped; errors name the line in both forms.
func TestReadText(t *testing.T) {
	want := []float64{0.1, 2, -3e-5, 4, 5, 6}
	for name, body := range map[string]string{
		"savetxt.txt": "1.000000000000000056e-01 2.000000000000000000e+00\n-3.000000000000000076e-05 4.000000000000000000e+00\n5.000000000000000000e+00 6.000000000000000000e+00\n",
		"r.txt":       "\"x\" \"y\"\n0.1 2\n-3e-05 4\n5 6\n",
		"tabs.tsv":    "x\ty\n0.1\t2\n-3e-05\t4\n5\t6\n",
		"crlf.dat":    "# made by hand\r\n  0.1   2 \r\n\r\n-3e-05\t 4\r\n5 6",
		"commas.txt":  "\n# note\n0.1,2\n-3e-05, 4\n5,6\n",
		"header.csv":  "x y\n0.1 2\n-3e-05 4\n5 6\n",
		"oneline.txt": "0.1 2 -3e-05 4 5 6",
		"bom.csv":     "\xef\xbb\xbf0.1,2\n-3e-05,4\n5,6\n",
		"bomhead.txt": "\xef\xbb\xbfx\ty\n0.1\t2\n-3e-05\t4\n5\t6\n",
	} {
		x, n, d, err := ReadPoints(write(t, name, []byte(body)))
		wn, wd := 3, 2
		if name == "oneline.txt" {
			wn, wd = 1, 6
		}
		if err != nil || n != wn || d != wd || !slices.Equal(x, want) {
			t.Errorf("%s: ReadPoints = %v %d %d %v", name, x, n, d, err)
		}
	}
	for name, msg := range map[string]string{
		"ragged.txt": "line 3 has 1 values, earlier lines have 2",
		"text.tsv":   "line 2, column 2: \"x\" is not a number",
		"nan.dat":    "point 1, coordinate 0 is NaN",
		"blank.txt":  "no points in file",
	} {
		body := map[string]string{"ragged.txt": "1 2\n\n3\n", "text.tsv": "1\t2\n3\tx\n", "nan.dat": "1 2\nNaN 3\n", "blank.txt": "# nothing\n \n"}[name]
		_, _, _, err := ReadPoints(write(t, name, []byte(body)))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want one saying %q", name, err, msg)
		}
	}
	if _, _, _, err := ReadPoints(write(t, "p.xlsx", []byte("1 2\n"))); err == nil || !strings.Contains(err.Error(), "unknown file type") {
		t.Errorf("p.xlsx: error %v", err)
	}
}

func TestReadNpy(t *testing.T) {
	// float32, 2-D: converted to float64.
	p := filepath.Join(t.TempDir(), "f.npy")
	f, _ := os.Create(p)
	if err := npyio.Write(f, mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})); err != nil {
		t.Fatal(err)
	}
	f.Close()
	x, n, d, err := ReadPoints(p)
	if err != nil || n != 2 || d != 3 || !slices.Equal(x, []float64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("2-D: %v %d %d %v", x, n, d, err)
	}
	p1 := filepath.Join(t.TempDir(), "v.npy")
	f, _ = os.Create(p1)
	if err := npyio.Write(f, []float32{1.5, 2.5, 3.5}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	x, n, d, err = ReadPoints(p1)
	if err != nil || n != 3 || d != 1 || !slices.Equal(x, []float64{1.5, 2.5, 3.5}) {
		t.Fatalf("1-D float32: %v %d %d %v", x, n, d, err)
	}
	p2 := filepath.Join(t.TempDir(), "i.npy")
	f, _ = os.Create(p2)
	if err := npyio.Write(f, []int32{-3, 4}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if x, n, d, err := ReadPoints(p2); err != nil || n != 2 || d != 1 || !slices.Equal(x, []float64{-3, 4}) {
		t.Fatalf("1-D int32: %v %d %d %v", x, n, d, err)
	}
	p3 := filepath.Join(t.TempDir(), "i2.npy")
	if err := writeNpyFile(p3, []int64{1, 2, 3, 4, 5, 6}, 3, 2); err != nil {
		t.Fatal(err)
	}
	if x, n, d, err := ReadPoints(p3); err != nil || n != 3 || d != 2 || !slices.Equal(x, []float64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("2-D int64: %v %d %d %v", x, n, d, err)
	}
	// Fortran order: the file stores columns; points come back row-major.
	hdr := "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }"
	hdr += strings.Repeat(" ", (64-(10+len(hdr)+1)%64)%64) + "\n"
	raw := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	raw = append(raw, hdr...)
	for _, v := range []float64{1, 4, 2, 5, 3, 6} {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
	}
	if x, n, d, err := ReadPoints(write(t, "fortran.npy", raw)); err != nil || n != 2 || d != 3 || !slices.Equal(x, []float64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("Fortran order: %v %d %d %v", x, n, d, err)
	}
	if _, _, _, err := ReadPoints(write(t, "bad.npy", []byte("not numpy"))); err == nil || !strings.Contains(err.Error(), "not a valid .npy") {
		t.Fatalf("bad npy: %v", err)
	}
}

func TestWriteNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	idx := []int64{0, -1, 5, 7, 9, 2}
	p := filepath.Join(dir, "i.npy")
	if err := writeNpyFile(p, idx, 3, 2); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Header.Descr.Shape; !slices.Equal(s, []int{3, 2}) || r.Header.Descr.Type != "'<i8'" {
		t.Fatalf("header %+v", r.Header.Descr)
	}
	var got []int64
	if err := r.Read(&got); err != nil || !slices.Equal(got, idx) {
		t.Fatalf("read back %v %v", got, err)
	}
	if err := writeNpyFile(p, idx, 2, 2); err == nil {
		t.Fatal("shape mismatch accepted")
	}
	// Several of the writer's chunks, int32 indices widened to int64, and
	// float64 bits kept.
	const rows, cols = 2500, 7
	wide := make([]int32, rows*cols)
	vals := make([]float64, rows*cols)
	for i := range wide {
		wide[i] = int32(i*7919) - 1<<30
		vals[i] = math.Nextafter(float64(i)/3, math.Inf(1))
	}
	vals[5] = math.Inf(1)
	for _, c := range []struct {
		name  string
		write func(w io.Writer) error
		check func(r *npyio.Reader) bool
	}{
		{"indices", func(w io.Writer) error { return WriteNpyIndices(w, wide, rows, cols) }, func(r *npyio.Reader) bool {
			var got []int64
			if r.Read(&got) != nil || len(got) != len(wide) {
				return false
			}
			for i, v := range got {
				if v != int64(wide[i]) {
					return false
				}
			}
			return true
		}},
		{"float64", func(w io.Writer) error { return WriteNpy(w, vals, rows, cols) }, func(r *npyio.Reader) bool {
			var got []float64
			return r.Read(&got) == nil && slices.Equal(got, vals)
		}},
	} {
		var buf bytes.Buffer
		if err := c.write(&buf); err != nil {
			t.Fatal(err)
		}
		r, err := npyio.NewReader(&buf)
		if err != nil || !slices.Equal(r.Header.Descr.Shape, []int{rows, cols}) || !c.check(r) {
			t.Fatalf("%s: round trip differs (%v)", c.name, err)
		}
	}
	if err := WriteNpyIndices(io.Discard, wide, rows, cols+1); err == nil {
		t.Fatal("indices: shape mismatch accepted")
	}
	if DistancesPath("/a/nn.npy") != "/a/nn_distances.npy" {
		t.Fatal(DistancesPath("/a/nn.npy"))
	}
}
