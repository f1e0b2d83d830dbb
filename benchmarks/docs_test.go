package benchmarks

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fxtools/background/benchmarks/internal/figures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// block is a generated table in README or docs:
//
//	<!-- figures TABLE from benchmarks/results/RUN.txt -->
//	| … |
//	<!-- end figures -->
var block = regexp.MustCompile(`(?s)<!-- figures (\S+) from (benchmarks/results/\S+\.txt) -->\n(.*?)<!-- end figures -->`)

// aRun is how the docs name any run of benchmarks/run.sh.
var aRun = regexp.MustCompile(`results/\d{8}T\d{6}Z\.txt`)

// Every benchmark figure in README and docs is a table rendered from one
// run of run.sh, named in the block, and equal to what that run renders
// now; no other run is cited. FXASYNC_UPDATE_DOCS=1 rewrites the tables,
// from FXASYNC_RESULTS when set (run.sh prints the command).
func TestDocsFiguresAreFromOneRun(t *testing.T) {
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	update := os.Getenv("FXASYNC_UPDATE_DOCS") == "1"
	runs := map[string]bool{}
	blocks := 0
	for _, path := range append(docs, "../README.md") {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		text := string(raw)
		rendered := block.ReplaceAllStringFunc(text, func(b string) string {
			m := block.FindStringSubmatch(b)
			run := m[2]
			if update && os.Getenv("FXASYNC_RESULTS") != "" {
				run = "benchmarks/results/" + filepath.Base(os.Getenv("FXASYNC_RESULTS"))
			}
			runs[run] = true
			blocks++
			return "<!-- figures " + m[1] + " from " + run + " -->\n" + render(t, m[1], run) + "<!-- end figures -->"
		})
		if update {
			require.NoError(t, os.WriteFile(path, []byte(rendered), 0o644))
			text = rendered
		}
		assert.Equal(t, rendered, text, "%s: a table differs from its run; FXASYNC_UPDATE_DOCS=1 rewrites it", path)
		for _, cited := range aRun.FindAllString(text, -1) {
			runs["benchmarks/"+cited] = true
		}
	}
	assert.Positive(t, blocks)
	assert.Len(t, runs, 1, "README and docs cite one run of run.sh: %v", runs)
}

func render(t *testing.T, table, run string) string {
	f, err := os.Open(filepath.Join("..", run))
	require.NoError(t, err)
	defer f.Close()
	res, err := figures.Parse(f)
	require.NoError(t, err)
	out, err := figures.Render(table, res)
	require.NoError(t, err, "%s from %s", table, run)
	return out
}

// A table renders its figures from the run, and a figure the run lacks is
// an error that names it.
func TestFiguresNameWhatTheRunLacks(t *testing.T) {
	res, err := figures.Parse(strings.NewReader(
		"BenchmarkUsageRows/mode=task-2 \t 20000 \t 34260 ns/op \t 29188 rows/s\n" +
			"BenchmarkUsageRows/mode=batcher-2 \t 20000 \t 3308 ns/op \t 302335 rows/s\n" +
			"BenchmarkUsageRows/mode=batcher-2 \t 20000 \t 3601 ns/op \t 277712 rows/s\n"))
	require.NoError(t, err)
	out, err := figures.Render("rows", res)
	require.NoError(t, err)
	assert.Contains(t, out, "| one task per row | 29,188 | 1.00× |")
	assert.Contains(t, out, "| through the batcher | 290,024 | 9.94× |", "the median of two is their mean")
	_, err = figures.Render("durable", res)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BenchmarkSubmit/mode=memory-2 (p50-ns)")
	_, err = figures.Render("nonesuch", res)
	assert.Error(t, err)
}
