// Package dataio reads point matrices from .npy and .csv files and writes
// neighbour tables to them.
package dataio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"
)

// ReadPoints reads an n x d matrix of coordinates from a .npy file (any
// numeric dtype, C or Fortran order; a 1-D array is n x 1) or a text file
// (.csv, .txt, .tsv, .dat: one point per line, its values separated by
// commas or by spaces and tabs, an optional non-numeric header line, #
// comments). It returns the
// row-major values. Empty files, ragged rows, non-numbers and NaN/Inf values
// are errors naming the place.
func ReadPoints(path string) (x []float64, n, d int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		var size int64 = -1
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		x, n, d, err = readNpy(f, size)
	case ".csv", ".txt", ".tsv", ".dat":
		x, n, d, err = readText(f)
	default:
		return nil, 0, 0, fmt.Errorf("%s: unknown file type %q (want .npy, or text: .csv, .txt, .tsv or .dat)", path, filepath.Ext(path))
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if n == 0 || d == 0 {
		return nil, 0, 0, fmt.Errorf("%s: no points in file", path)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, 0, fmt.Errorf("%s: point %d, coordinate %d is %v: coordinates must be finite", path, i/d, i%d, v)
		}
	}
	return x, n, d, nil
}

// maxValues bounds the values a file may declare (2^40: 8 TiB of float64),
// so that size arithmetic cannot overflow.
const maxValues = 1 << 40

// npyPrefix reads the fixed start of a .npy file (magic, version, header
// length) and returns the header's length and the offset of the data.
func npyPrefix(br *bufio.Reader) (hlen, offset int64, err error) {
	pre, err := br.Peek(12)
	if err != nil && len(pre) < 10 {
		return 0, 0, errors.New("not a valid .npy file: too short for its header")
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return 0, 0, errors.New("not a valid .npy file: no NUMPY magic string")
	}
	switch pre[6] {
	case 1:
		return int64(binary.LittleEndian.Uint16(pre[8:10])), 10 + int64(binary.LittleEndian.Uint16(pre[8:10])), nil
	case 2, 3:
		if len(pre) < 12 {
			return 0, 0, errors.New("not a valid .npy file: too short for its header")
		}
		h := int64(binary.LittleEndian.Uint32(pre[8:12]))
		return h, 12 + h, nil
	}
	return 0, 0, fmt.Errorf("not a valid .npy file: format version %d.%d is not supported", pre[6], pre[7])
}

// readNpy reads a .npy matrix from r; size is the file's length in bytes
// (-1: unknown), checked against the header before any data is allocated.
func readNpy(r io.Reader, size int64) (x []float64, n, d int, err error) {
	br := bufio.NewReader(r)
	_, offset, err := npyPrefix(br)
	if err != nil {
		return nil, 0, 0, err
	}
	if size >= 0 && offset > size {
		return nil, 0, 0, fmt.Errorf("not a valid .npy file: truncated inside its %d-byte header", offset)
	}
	// The decoder panics on some malformed headers: report those as what
	// they are.
	defer func() {
		if p := recover(); p != nil {
			x, n, d, err = nil, 0, 0, fmt.Errorf("not a valid .npy file: malformed header or data (%v)", p)
		}
	}()
	rd, err := npyio.NewReader(br)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("not a valid .npy file: %w", err)
	}
	shape := rd.Header.Descr.Shape
	if n, d, err = npyShape(shape); err != nil || n == 0 || d == 0 {
		return nil, 0, 0, err
	}
	// Read the flat data in the file's own element type, then convert.
	rt := npyio.TypeFrom(rd.Header.Descr.Type)
	if rt == nil || !numericKind(rt.Kind()) {
		return nil, 0, 0, fmt.Errorf(".npy dtype %s is not supported: want a numeric (float, int or uint) array", rd.Header.Descr.Type)
	}
	if need := int64(n) * int64(d) * int64(rt.Size()); size >= 0 && size-offset < need {
		return nil, 0, 0, fmt.Errorf(".npy file is truncated: shape %v of %s needs %d data bytes, the file has %d", shape, rd.Header.Descr.Type, need, max(0, size-offset))
	}
	ptr := reflect.New(reflect.SliceOf(rt))
	if err := rd.Read(ptr.Interface()); err != nil {
		return nil, 0, 0, fmt.Errorf("reading .npy data: %w", err)
	}
	sv := ptr.Elem()
	if sv.Len() != n*d {
		return nil, 0, 0, fmt.Errorf(".npy data has %d values for shape %v", sv.Len(), shape)
	}
	if v, ok := ptr.Interface().(*[]float64); ok && !rd.Header.Descr.Fortran {
		return *v, n, d, nil // the common case: no conversion
	}
	if x, err = toFloat64(sv, n, d, rd.Header.Descr.Fortran); err != nil {
		return nil, 0, 0, fmt.Errorf(".npy dtype %s %w", rd.Header.Descr.Type, err)
	}
	return x, n, d, nil
}

// npyShape returns the points and dimensions of an array of the given
// shape: n x d, or n x 1 for a 1-D array.
func npyShape(shape []int) (n, d int, err error) {
	switch len(shape) {
	case 1:
		n, d = shape[0], 1
	case 2:
		n, d = shape[0], shape[1]
	default:
		return 0, 0, fmt.Errorf(".npy array has shape %v: want a 2-D array (points x dimensions)", shape)
	}
	if n < 0 || d < 0 || (d > 0 && n > maxValues/d) {
		return 0, 0, fmt.Errorf(".npy array has shape %v: too large", shape)
	}
	return n, d, nil
}

// toFloat64 converts the n*d numeric values of sv (a slice, row-major, or
// column-major when fortran) into a row-major n x d []float64.
func toFloat64(sv reflect.Value, n, d int, fortran bool) ([]float64, error) {
	x := make([]float64, n*d)
	for i := range x {
		e := sv.Index(i)
		var v float64
		switch {
		case e.CanFloat():
			v = e.Float()
		case e.CanInt():
			v = float64(e.Int())
		case e.CanUint():
			v = float64(e.Uint())
		default:
			return nil, errors.New("is not numeric")
		}
		if fortran { // column-major: element i is (i%n, i/n)
			x[(i%n)*d+i/n] = v
		} else {
			x[i] = v
		}
	}
	return x, nil
}

func numericKind(k reflect.Kind) bool {
	switch k {
	case reflect.Float32, reflect.Float64, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// readText reads a text matrix, one point per line, in either form that
// tools write: comma-separated values (when the first line that is not
// blank or a # comment holds a comma: CSV rules, quotes allowed), or values
// separated by spaces or tabs (numpy's savetxt, R's write.table, .tsv),
// after a UTF-8 byte-order mark if there is one.
func readText(r io.Reader) ([]float64, int, int, error) {
	br := bufio.NewReaderSize(r, textPeek)
	// A UTF-8 byte-order mark (spreadsheets write one) is not data.
	if head, _ := br.Peek(len(utf8BOM)); string(head) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
	if commaSeparated(br) {
		return readCSV(br)
	}
	return readFields(br)
}

// utf8BOM is the byte-order mark some tools put at the start of a text file.
const utf8BOM = "\xef\xbb\xbf"

// textPeek is how much of a text file commaSeparated may look at.
const textPeek = 64 << 10

// commaSeparated reports whether the first data line (not blank, not a #
// comment) in the start of br holds a comma (a line longer than textPeek
// is judged by its start); a start with no data line is taken as
// comma-separated.
func commaSeparated(br *bufio.Reader) bool {
	head, _ := br.Peek(textPeek)
	for len(head) > 0 {
		line := head
		if k := bytes.IndexByte(head, '\n'); k >= 0 {
			line, head = head[:k], head[k+1:]
		} else {
			head = nil
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		return bytes.IndexByte(t, ',') >= 0
	}
	return true
}

func readCSV(r io.Reader) ([]float64, int, int, error) {
	cr := csv.NewReader(r) // it buffers r itself
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var tb table
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
		line, _ := cr.FieldPos(0) // the file's line, comments counted
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if err := tb.add(rec, line); err != nil {
			return nil, 0, 0, err
		}
	}
	return tb.x, tb.n, tb.d, nil
}

// readFields reads lines of values separated by runs of spaces or tabs,
// skipping blank lines and lines that start with #.
func readFields(br *bufio.Reader) ([]float64, int, int, error) {
	var tb table
	for line := 1; ; line++ {
		s, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, 0, err
		}
		if t := strings.TrimSpace(s); t != "" && t[0] != '#' {
			if err := tb.add(strings.Fields(t), line); err != nil {
				return nil, 0, 0, err
			}
		}
		if err != nil {
			return tb.x, tb.n, tb.d, nil
		}
	}
}

// table gathers the rows of a text matrix: an optional header first, then
// rows of the same width.
type table struct {
	x      []float64
	n, d   int
	header bool
}

// add parses the fields of the file's line and appends them as a row.
func (tb *table) add(rec []string, line int) error {
	vals, err := parseRecord(rec, line, tb.n == 0 && !tb.header)
	if errors.Is(err, errHeader) {
		tb.header = true // the first line, and no field of it is a number
		return nil
	}
	if err != nil {
		return err
	}
	if tb.d == 0 {
		tb.d = len(vals)
	} else if len(vals) != tb.d {
		return fmt.Errorf("line %d has %d values, earlier lines have %d", line, len(vals), tb.d)
	}
	tb.x = append(tb.x, vals...)
	tb.n++
	return nil
}

// errHeader: a first line with no number in it, taken as a header.
var errHeader = errors.New("header")

// parseRecord parses one CSV line of numbers. On the first line (first)
// a line of which no field is a number is a header (errHeader); a line
// mixing numbers and other text is an error naming the first bad field.
func parseRecord(rec []string, line int, first bool) ([]float64, error) {
	vals := make([]float64, len(rec))
	bad := -1
	for k, s := range rec {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			if bad < 0 {
				bad = k
			}
			continue
		}
		vals[k] = v
	}
	switch {
	case bad < 0:
		return vals, nil
	case first && numbers(rec) == 0:
		return nil, errHeader
	case first:
		return nil, fmt.Errorf("line %d, column %d: %q is not a number (a header line may hold no numbers, and data lines only numbers)", line, bad+1, rec[bad])
	}
	return nil, fmt.Errorf("line %d, column %d: %q is not a number", line, bad+1, rec[bad])
}

func numbers(rec []string) int {
	c := 0
	for _, s := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			c++
		}
	}
	return c
}
