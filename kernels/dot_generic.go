package kernels

// dotTileGeneric is the pure-Go twin of the dot tile kernels: four partial
// sums per dot product, accumulated in T.
func dotTileGeneric[T Float](g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int) {
	for i := 0; i < q; i++ {
		ai := a[i*lda : i*lda+m]
		gi := g[i*ldg : i*ldg+c]
		for j := range gi {
			gi[j] = dotGeneric(ai, b[j*ldb:j*ldb+m])
		}
	}
}

// dotTileRowsGeneric is dotTileGeneric against B rows picked by id.
func dotTileRowsGeneric[T Float](g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, m int) {
	for i := 0; i < q; i++ {
		ai := a[i*lda : i*lda+m]
		gi := g[i*ldg : i*ldg+len(rows)]
		for j, id := range rows {
			gi[j] = dotGeneric(ai, b[int(id)*ldb:int(id)*ldb+m])
		}
	}
}

func dotGeneric[T Float](ai, bj []T) T {
	var s0, s1, s2, s3 T
	k := 0
	m := len(ai)
	bj = bj[:m]
	for ; k+4 <= m; k += 4 {
		s0 += ai[k] * bj[k]
		s1 += ai[k+1] * bj[k+1]
		s2 += ai[k+2] * bj[k+2]
		s3 += ai[k+3] * bj[k+3]
	}
	for ; k < m; k++ {
		s0 += ai[k] * bj[k]
	}
	return (s0 + s1) + (s2 + s3)
}
