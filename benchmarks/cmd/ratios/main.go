// Command ratios reads `go test -bench` output whose last sub-benchmark level
// is impl=NAME or mode=NAME and prints, per benchmark, CPU count and unit, the
// median of each and its ratio to the baseline from the same input: the first
// of impl=floor, mode=none (no usage logging), mode=task (one task per row),
// mode=memory (an in-memory submit), mode=tx-per-row (a durable row's own
// transaction), mode=batch (the example's default) that the benchmark has.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fxtools/background/benchmarks/internal/figures"
)

var line = regexp.MustCompile(`^(Benchmark\S*)/(?:impl|mode)=([^-\s]+(?:-[a-z]+)*)(-\d+)?\s+\d+\s+(.*)$`)

type key struct{ bench, cpu, unit string }

func main() {
	values := map[key]map[string][]float64{}
	var order []key
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		cpu := strings.TrimPrefix(m[3], "-")
		if cpu == "" {
			cpu = "1"
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			k := key{m[1], cpu, f[i+1]}
			if values[k] == nil {
				values[k] = map[string][]float64{}
				order = append(order, k)
			}
			values[k][m[2]] = append(values[k][m[2]], v)
		}
	}
	for _, k := range order {
		if k.unit == "ns/op" && (strings.Contains(k.bench, "Wakeup") || strings.Contains(k.bench, "Memory")) {
			continue // set-up time, not the figure
		}
		print(k, values[k])
	}
}

func print(k key, byImpl map[string][]float64) {
	var floor float64
	for _, base := range []string{"floor", "none", "task", "memory", "tx-per-row", "batch"} {
		if v, ok := byImpl[base]; ok {
			floor = median(v)
			break
		}
	}
	fmt.Printf("%s -cpu %s (%s)\n", k.bench, k.cpu, k.unit)
	impls := make([]string, 0, len(byImpl))
	for impl := range byImpl {
		impls = append(impls, impl)
	}
	sort.Slice(impls, func(i, j int) bool { return median(byImpl[impls[i]]) < median(byImpl[impls[j]]) })
	for _, impl := range impls {
		med := median(byImpl[impl])
		ratio := "   -"
		if floor > 0 {
			ratio = fmt.Sprintf("%.2fx", med/floor)
		}
		fmt.Printf("  %-18s %12.1f  %s  (n=%d)\n", impl, med, ratio, len(byImpl[impl]))
	}
}

func median(v []float64) float64 { return figures.Median(v) }
