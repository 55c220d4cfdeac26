package dataio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeNpyFile[T int64 | float64](path string, data []T, rows, cols int) error {
	var fs Files
	if err := fs.Write(path, func(w io.Writer) error { return WriteNpy(w, data, rows, cols) }); err != nil {
		fs.Abort()
		return err
	}
	return fs.Commit()
}

// entries lists a directory's file names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestFilesAllOrNone: a set whose second file fails leaves nothing behind
// and the old file untouched; a good set replaces both.
func TestFilesAllOrNone(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	if err := os.WriteFile(a, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var fs Files
	if err := fs.Write(a, func(w io.Writer) error { return WriteNpy(w, []float64{1, 2}, 1, 2) }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	if err := fs.Write(b, func(w io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("second file: %v", err)
	}
	fs.Abort()
	if got := entries(t, dir); len(got) != 1 || got[0] != "a.npy" {
		t.Fatalf("after a failed set: %v", got)
	}
	if old, _ := os.ReadFile(a); string(old) != "old" {
		t.Fatalf("a.npy changed to %q", old)
	}
	fs = Files{}
	for _, p := range []string{a, b} {
		if err := fs.Write(p, func(w io.Writer) error { return WriteNpy(w, []float64{1, 2}, 1, 2) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		if x, n, d, err := ReadPoints(p); err != nil || n != 1 || d != 2 || x[1] != 2 {
			t.Fatalf("%s: %v %d %d %v", p, x, n, d, err)
		}
	}
	if got := entries(t, dir); len(got) != 2 {
		t.Fatalf("temporaries left: %v", got)
	}
}

// TestCheckOutput: missing or unwritable directories, directories, and
// inputs (also through a link) are refused before any work.
func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(in, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.npy")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutput(filepath.Join(dir, "out.npy"), in); err != nil {
		t.Fatalf("a fresh output: %v", err)
	}
	for _, c := range []struct{ out, want string }{
		{in, "is the input file"},
		{link, "is the input file"},
		{filepath.Join(dir, "nodir", "o.npy"), "no such file"},
		{dir, "is a directory"},
		{filepath.Join(in, "o.npy"), "is not a directory"},
	} {
		if err := CheckOutput(c.out, in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.out, err, c.want)
		}
	}
	if os.Getuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := CheckOutput(filepath.Join(ro, "o.npy")); err == nil || !strings.Contains(err.Error(), "cannot write") {
			t.Errorf("read-only directory: %v", err)
		}
	}
	if old, _ := os.ReadFile(in); string(old) != "data" {
		t.Fatal("the input changed")
	}
}

// TestFilesWriteAll: jobs written at once, all or none like Write; a job
// without a path is skipped.
func TestFilesWriteAll(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	good := func(w io.Writer) error { return WriteNpy(w, []float64{1, 2}, 1, 2) }
	boom := errors.New("disk full")
	var fs Files
	err := fs.WriteAll(Job{a, good}, Job{"", func(io.Writer) error { return boom }}, Job{b, func(io.Writer) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("failed job: %v", err)
	}
	fs.Abort()
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("after a failed set: %v", got)
	}
	fs = Files{}
	if err := fs.WriteAll(Job{a, good}, Job{"", nil}, Job{b, good}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"a.npy", "b.npy"}) {
		t.Fatalf("after a good set: %v", got)
	}
}
