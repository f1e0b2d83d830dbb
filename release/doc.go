// Package release holds the repository's release tooling, which is not
// published: the drill that proves every module installs alone from a
// module proxy at the candidate version (drill_test.go, run by make test),
// and release.sh, which sets that version and prints the tags to push.
package release

// Published are the module folders a release tags, relative to the
// repository's root, each with its packages a user imports (relative to
// the module; "." its root); the others (benchmarks, the fleet drill, this
// one) are tools of the repository. The last, a command, is installed.
var Published = []struct {
	Dir      string
	Packages []string
}{
	{".", []string{"fxasync", "fxshutdown"}},
	{"fxasync/fxasyncotel", []string{"."}},
	{"fxasync/fxasyncprom", []string{"."}},
	{"fxasync/fxasyncriver", []string{"."}},
	{"examples/app", nil},
}
