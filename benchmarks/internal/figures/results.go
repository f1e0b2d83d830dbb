// Package figures reads one run of benchmarks/run.sh and renders the tables
// that README and docs quote from it, so that every figure they show comes
// from one named results file and cannot drift from it (see the benchmarks
// module's TestDocsFiguresAreFromOneRun).
package figures

// This file holds the results: medians by benchmark name and unit.

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// line is one benchmark result: its full name (with the -N CPU suffix Go
// adds when GOMAXPROCS is not 1), the iterations, then value-unit pairs.
var line = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(.*)$`)

// Results are the values of every benchmark of a run, by name and unit.
type Results struct {
	values  map[string][]float64 // name + " " + unit
	missing []string
}

// Parse reads `go test -bench` output; lines that are not results are
// skipped.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{values: map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				k := m[1] + " " + f[i+1]
				res.values[k] = append(res.values[k], v)
			}
		}
	}
	return res, sc.Err()
}

// Median is the median of name's values in unit; a figure the run lacks
// reads 0 and is remembered, for Err.
func (r *Results) Median(name, unit string) float64 {
	v, ok := r.values[name+" "+unit]
	if !ok {
		r.missing = append(r.missing, name+" ("+unit+")")
		return 0
	}
	return Median(v)
}

// Err names the figures asked for that the run does not have.
func (r *Results) Err() error {
	if len(r.missing) == 0 {
		return nil
	}
	return fmt.Errorf("the results lack %d figure(s): %s", len(r.missing), strings.Join(r.missing, ", "))
}

// Median of v; 0 when empty.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
