package metric

import (
	"errors"
	"fmt"
)

// Errors callers act on, matched with errors.Is and errors.As. Their
// messages name the problem; the sentinels only classify it.
var (
	// ErrBadInput classifies invalid arguments: non-finite coordinates,
	// wrong shapes, out-of-range parameters.
	ErrBadInput = errors.New("bad input")
	// ErrFloat32Refused is returned when float32 storage of V was asked for
	// but its error bound on rho exceeds Float32MaxBound.
	ErrFloat32Refused = errors.New("float32 storage refused")
	// ErrIncompatible is returned when two point sets come from different
	// metrics (dimension, factor width or precision differ).
	ErrIncompatible = errors.New("incompatible point sets")
)

// CholeskyError reports that K_UU + jitter I could not be factorised, even
// after the jitter was grown tenfold Tries times; Jitter is the last one
// tried.
type CholeskyError struct {
	M      int
	Jitter float64
	Tries  int
}

func (e *CholeskyError) Error() string {
	return fmt.Sprintf("the Cholesky factorisation of the %d x %d inducing kernel matrix failed even with jitter %g (%d tries): "+
		"the inducing points are (nearly) duplicated or the kernel is singular; try fewer inducing points or a larger jitter",
		e.M, e.M, e.Jitter, e.Tries)
}

// classified is an error whose message is its own and which matches a
// sentinel under errors.Is.
type classified struct {
	msg  string
	kind error
}

func (e *classified) Error() string        { return e.msg }
func (e *classified) Is(target error) bool { return target == e.kind }

// badInput returns an ErrBadInput error with the formatted message.
func badInput(format string, a ...any) error {
	return &classified{fmt.Sprintf(format, a...), ErrBadInput}
}

// BadInput is badInput for the packages above the metric (the tree, the
// command line), so that all invalid arguments match ErrBadInput.
func BadInput(format string, a ...any) error { return badInput(format, a...) }
