package dataio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
)

// npyBytes returns a version 1.0 .npy file with the given header dict and
// data bytes.
func npyBytes(dict string, data []byte) []byte {
	h := dict + strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func f64Bytes(v ...float64) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// TestNpyMalformed: every broken file is an error naming the problem,
// never a panic or a huge allocation.
func TestNpyMalformed(t *testing.T) {
	good := npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f64Bytes(1, 2, 3, 4))
	if x, n, d, err := ReadPoints(write(t, "good.npy", good)); err != nil || n != 2 || d != 2 || x[3] != 4 {
		t.Fatalf("good file: %v %d %d %v", x, n, d, err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"header-cut", good[:40], "truncated inside its 128-byte header"},
		{"magic-only", good[:8], "too short for its header"},
		{"no-magic", []byte("PK\x03\x04 this is a zip file"), "no NUMPY magic"},
		{"version", append([]byte("\x93NUMPY\x07\x00"), good[8:]...), "version 7.0 is not supported"},
		{"object", npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", make([]byte, 32)), "dtype '|O' is not supported"},
		{"complex", npyBytes("{'descr': '<c16', 'fortran_order': False, 'shape': (2, 2), }", make([]byte, 64)), "is not supported"},
		{"huge-shape", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 2), }", make([]byte, 32)), "needs 1600000000000 data bytes, the file has 32"},
		{"absurd-shape", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (9000000000000000000, 9), }", nil), "too large"},
		{"data-cut", good[:len(good)-3], "is truncated"},
		{"3-d", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }", f64Bytes(1)), "want a 2-D array"},
		{"nan", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }", f64Bytes(1, math.NaN())), "point 1, coordinate 0 is NaN"},
	} {
		_, _, _, err := ReadPoints(write(t, c.name+".npy", c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestCSVHeader: a first line is a header only when none of its fields is
// a number; otherwise a non-number is an error naming line and column.
func TestCSVHeader(t *testing.T) {
	x, n, d, err := ReadPoints(write(t, "h.csv", []byte("# made by hand\nx,y,z\n1,2,3\n")))
	if err != nil || n != 1 || d != 3 || x[2] != 3 {
		t.Fatalf("header: %v %d %d %v", x, n, d, err)
	}
	for body, want := range map[string]string{
		"1,abc,3\n4,5,6\n":        `line 1, column 2: "abc" is not a number`,
		"# c\n1,abc,3\n4,5,6\n":   `line 2, column 2: "abc" is not a number`,
		"x,y,z\n1,2,3\n4,b,6\n":   `line 3, column 2: "b" is not a number`,
		"x,y\na,b\n1,2\n":         `line 2, column 1: "a" is not a number`,
		"1,2\n3,4\n\n5,6,7\n":     "line 4 has 3 values, earlier lines have 2",
		"x,\"unterminated\n1,2\n": "extraneous or missing",
	} {
		if _, _, _, err := ReadPoints(write(t, "b.csv", []byte(body))); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", body, err, want)
		}
	}
}

// checkRead asserts what any reader's answer must satisfy.
func checkRead(t *testing.T, x []float64, n, d int, err error) {
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	if len(x) != n*d {
		t.Fatalf("%d values for %d x %d", len(x), n, d)
	}
}

// FuzzReadNpy: no byte string makes the .npy reader panic, hang or claim
// more values than it returns.
func FuzzReadNpy(f *testing.F) {
	f.Add(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f64Bytes(1, 2, 3, 4)))
	f.Add(npyBytes("{'descr': '<i4', 'fortran_order': True, 'shape': (3,), }", make([]byte, 12)))
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", make([]byte, 8)))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<f8'}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, n, d, err := readNpy(bytes.NewReader(data), int64(len(data)))
		checkRead(t, x, n, d, err)
	})
}

// FuzzReadCSV: no byte string makes the text reader (comma-separated or
// not) panic, and what it returns is a whole matrix.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"x,y\n1,2\n3,4\n", "1,abc,3\n", "# c\n1\n\n2\n", "\"a\",\"b\"\n1e308,-0\n", fmt.Sprint(math.Inf(1)),
		"x y\n1 2\n3\t4\n", "\"a\" \"b\"\n1e-3  -0\n", "1 2\n3\n", " # c\n\t\n5\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, n, d, err := readText(bytes.NewReader(data))
		checkRead(t, x, n, d, err)
	})
}
