package dataio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Files writes a set of output files all or none: each goes to a
// temporary file in its target directory, and Commit renames them all
// into place once every one is complete. Abort (or a failed Commit)
// removes what is left, so a failed run leaves no partial file behind.
type Files struct {
	mu         sync.Mutex
	tmp, final []string
}

// Write writes one file of the set through fn.
func (fs *Files) Write(path string, fn func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	fs.mu.Lock()
	fs.tmp, fs.final = append(fs.tmp, f.Name()), append(fs.final, path)
	fs.mu.Unlock()
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Job is one file of a set: its path ("" for a file not asked for) and
// what writes it.
type Job struct {
	Path  string
	Write func(w io.Writer) error
}

// WriteAll writes the jobs with a path at once, each on a goroutine of its
// own (the copies into the page cache and the syncs of large files
// overlap: a 10^6 x 30 answer is two files of 240 MB), and returns their
// errors joined (nil when every one was written).
func (fs *Files) WriteAll(jobs ...Job) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.Path == "" {
			continue
		}
		wg.Go(func() { errs[i] = fs.Write(j.Path, j.Write) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Commit renames every written file into place.
func (fs *Files) Commit() error {
	for i := range fs.tmp {
		if err := os.Rename(fs.tmp[i], fs.final[i]); err != nil {
			fs.tmp = fs.tmp[i:]
			fs.Abort()
			return fmt.Errorf("writing %s: %w", fs.final[i], err)
		}
	}
	fs.tmp, fs.final = nil, nil
	return nil
}

// Abort removes the temporary files not yet committed.
func (fs *Files) Abort() {
	for _, t := range fs.tmp {
		os.Remove(t)
	}
	fs.tmp, fs.final = nil, nil
}

// ErrOverwriteInput: an output path names one of the run's input files.
var ErrOverwriteInput = errors.New("would overwrite an input file")

// CheckOutput reports, before any work is done, why path could not be
// written: its directory is missing or not writable, it is a directory,
// or it is one of the inputs (matched by file identity, so links and
// other spellings of the same file count).
func CheckOutput(path string, inputs ...string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("output %s: directory %s: %w", path, dir, err)
	} else if !st.IsDir() {
		return fmt.Errorf("output %s: %s is not a directory", path, dir)
	}
	out, err := os.Stat(path)
	if err == nil {
		if out.IsDir() {
			return fmt.Errorf("output %s is a directory", path)
		}
		for _, in := range inputs {
			if in == "" {
				continue
			}
			if st, err := os.Stat(in); err == nil && os.SameFile(st, out) {
				return fmt.Errorf("output %s is the input file %s: %w", path, in, ErrOverwriteInput)
			}
		}
	}
	f, err := os.CreateTemp(dir, ".pcct-check-*")
	if err != nil {
		return fmt.Errorf("output %s: cannot write to %s: %w", path, dir, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// WriteNpy writes a row-major rows x cols matrix of int64 or float64 as a
// version 1.0 .npy file (little-endian, C order) to w, through a small
// buffer (a copy of the whole matrix would add its size to the peak).
func WriteNpy[T int64 | float64](w io.Writer, data []T, rows, cols int) error {
	switch d := any(data).(type) {
	case []float64:
		return writeNpy(w, d, "<f8", rows, cols, math.Float64bits)
	default:
		return writeNpy(w, any(data).([]int64), "<i8", rows, cols, func(v int64) uint64 { return uint64(v) })
	}
}

// WriteNpyIndices writes a row-major rows x cols matrix of int32 indices
// as an int64 .npy file (numpy's and R's usual index type), widening them
// as it writes.
func WriteNpyIndices(w io.Writer, idx []int32, rows, cols int) error {
	return writeNpy(w, idx, "<i8", rows, cols, func(v int32) uint64 { return uint64(int64(v)) })
}

// writeNpy writes the header, then the values as 8-byte little-endian words
// (bits(v)), 8,192 at a time.
func writeNpy[T any](w io.Writer, data []T, descr string, rows, cols int, bits func(T) uint64) error {
	if len(data) != rows*cols {
		return fmt.Errorf("WriteNpy: %d values for shape (%d, %d)", len(data), rows, cols)
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, rows, cols)
	// Magic (6) + version (2) + header length (2) + header + '\n', padded
	// to a multiple of 64 with spaces.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if _, err := io.WriteString(w, "\x93NUMPY\x01\x00"); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint16(len(header))); err != nil {
		return err
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	const chunk = 8192
	buf := make([]byte, 8*min(chunk, len(data)))
	for c0 := 0; c0 < len(data); c0 += chunk {
		part := data[c0:min(len(data), c0+chunk)]
		for i, v := range part {
			binary.LittleEndian.PutUint64(buf[8*i:], bits(v))
		}
		if _, err := w.Write(buf[:8*len(part)]); err != nil {
			return err
		}
	}
	return nil
}

// WriteNeighboursCSV writes one line per query: its index, then k neighbour
// indices, then k distances (with a header line).
func WriteNeighboursCSV(w io.Writer, idx []int32, dist []float64, rows, k int) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("point")
	for p := 0; p < k; p++ {
		fmt.Fprintf(bw, ",n%d", p+1)
	}
	for p := 0; p < k; p++ {
		fmt.Fprintf(bw, ",d%d", p+1)
	}
	bw.WriteString("\n")
	for i := 0; i < rows; i++ {
		bw.WriteString(strconv.Itoa(i))
		for _, j := range idx[i*k : (i+1)*k] {
			bw.WriteString(",")
			bw.WriteString(strconv.FormatInt(int64(j), 10))
		}
		for _, v := range dist[i*k : (i+1)*k] {
			bw.WriteString(",")
			bw.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// DistancesPath returns the sibling file that holds the distances for an
// indices file: out.npy -> out_distances.npy.
func DistancesPath(path string) string { return SiblingPath(path, "_distances") }

// SiblingPath returns path with suffix inserted before its extension:
// out.npy, "_order" -> out_order.npy.
func SiblingPath(path, suffix string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}
