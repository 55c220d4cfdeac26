package metric_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/pcct/pcct/kernels/metric"
)

// The residual-correlation distance of an RBF kernel with two explicit
// inducing points, and a bad configuration's error.
func ExampleNewResidual() {
	x := []float64{0, 0, 0.1, 0, 1, 1, 1.05, 1} // four points in 2-D
	u := []float64{0, 0.5, 1, 0.5}              // two inducing points
	m, err := metric.NewResidual(context.Background(), x, 4, 2, metric.ResidualConfig{
		Lengthscale: []float64{0.5}, Method: metric.InducingExplicit, InducingPoints: u})
	if err != nil {
		panic(err)
	}
	fmt.Printf("d(0,1) = %.3f, d(0,2) = %.3f\n", m.Dist(0, 1), m.Dist(0, 2))
	_, err = metric.NewResidual(context.Background(), x, 4, 2, metric.ResidualConfig{Lengthscale: []float64{-1}})
	fmt.Println(errors.Is(err, metric.ErrBadInput), err)
	// Output:
	// d(0,1) = 0.172, d(0,2) = 0.975
	// true lengthscale of dimension 0 must be positive and finite, got -1
}
