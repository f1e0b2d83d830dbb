// Package benchmarks measures fxasync against a bare go statement (the floor),
// a minimal tracker and peer libraries. It is its own module so that users of
// the library never download the peers. Run ./run.sh for ratios to the floor.
package benchmarks
