// Package layers holds the test that keeps pcct's packages layered: each
// imports only packages on lower floors (cmd -> bench -> tree ->
// streamer/scope -> kernels/metric -> kernels and streamer), and the pool
// (streamer) imports no pcct package at all.
package layers
