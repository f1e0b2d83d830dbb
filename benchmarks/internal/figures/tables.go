package figures

// This file holds the tables the docs quote, each rendered from a run.

import (
	"fmt"
	"math"
	"strings"
)

// Render returns the Markdown table called name, from r.
func Render(name string, r *Results) (string, error) {
	t, ok := tables[name]
	if !ok {
		return "", fmt.Errorf("no table %q", name)
	}
	out := t(r)
	if err := r.Err(); err != nil {
		return "", fmt.Errorf("table %q: %w", name, err)
	}
	return out, nil
}

var tables = map[string]func(*Results) string{
	"goals":   goals,
	"go":      goTable,
	"example": example,
	"rows":    rows,
	"durable": durable,
	"retries": retries,
	"keyed":   keyed,
}

// at is a benchmark's name as Go prints it at -cpu n.
func at(name string, n int) string {
	if n == 1 {
		return name
	}
	return fmt.Sprintf("%s-%d", name, n)
}

// ratioOf is the median of name's impl over its baseline's, in unit.
func ratioOf(r *Results, bench, impl, base, unit string, cpu int) float64 {
	b := r.Median(at(bench+base, cpu), unit)
	if b == 0 {
		return 0
	}
	return r.Median(at(bench+impl, cpu), unit) / b
}

// times is a ratio, bold when it meets its goal.
func times(v float64, met bool) string { return bold(fmt.Sprintf("%.2f×", v), met) }

func bold(s string, met bool) string {
	if met {
		return "**" + s + "**"
	}
	return s
}

// thousands is n rounded, with comma separators.
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", math.Round(n))
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration is ns as a person reads it: 171 ns, 1.0 µs, 374 µs, 2.0 ms.
func duration(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns < 1e6:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	case ns < 1e7:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.0f ms", ns/1e6)
	}
}

// table is a Markdown table from a header and rows of cells.
func table(header []string, rows ...[]string) string {
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	b.WriteString("|" + strings.Join(sep, "|") + "|\n")
	for _, r := range rows {
		line(r)
	}
	return b.String()
}
