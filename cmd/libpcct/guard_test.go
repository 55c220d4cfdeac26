//go:build cgo

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestGuard: guard returns fn's error, and turns a panic in fn (which
// runs on a goroutine of its own) into an internal error naming it.
func TestGuard(t *testing.T) {
	errX := errors.New("x")
	if err := guard(func() error { return errX }); err != errX {
		t.Fatalf("error %v, want %v", err, errX)
	}
	if err := guard(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	err := guard(func() error { panic("boom") })
	if !errors.Is(err, errInternal) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a panic gave %v", err)
	}
	if st := status(err, nil, 0); st != 3 {
		t.Fatalf("a panic's status %d, want 3", st)
	}
}
