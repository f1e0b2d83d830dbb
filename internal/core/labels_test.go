package core

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabelCapFoldsIntoOverflow(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{MaxLabels: 3})
	for i := 0; i < 10; i++ {
		require.NoError(t, e.Go(context.Background(), "l"+string(rune('0'+i)), nop, 0))
	}
	require.NoError(t, e.Drain(context.Background()))
	s := e.Stats()
	require.Len(t, s.Labels, 4)
	assert.Equal(t, OverflowLabel, s.Labels[3].Label)
	assert.Equal(t, int64(7), s.Labels[3].Succeeded)
	assert.Equal(t, int64(10), s.Total.Succeeded)
}

// Labels that are not valid UTF-8 (a URL path with %ff) or too long are
// cleaned once, at submission: Stats, logs and metrics only see clean ones.
func TestLabelsAreCleaned(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "/v1/\uFFFD", CleanLabel("/v1/\xff"))
	assert.Equal(t, UnlabeledLabel, CleanLabel(""))
	long := CleanLabel(strings.Repeat("é", MaxLabelBytes))
	assert.LessOrEqual(t, len(long), MaxLabelBytes)
	assert.True(t, utf8.ValidString(long))
	ok := "log-usage"
	assert.Equal(t, ok, CleanLabel(ok))

	e, _ := newTestEngine(t, Config{})
	require.NoError(t, e.Go(context.Background(), "/v1/\xff\xfe", nop, 0))
	require.NoError(t, e.Drain(context.Background()))
	for _, l := range e.Stats().Labels {
		assert.True(t, utf8.ValidString(l.Label), "%q", l.Label)
	}
}

// A task labelled like a placeholder is counted with it: one entry per label
// string, so a metrics exporter never sees the same label twice.
func TestPlaceholderLabelsDoNotCollide(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{MaxLabels: 1})
	for _, l := range []string{"a", "b", OverflowLabel, "", UnlabeledLabel} {
		require.NoError(t, e.Go(context.Background(), l, nop, 0))
	}
	require.NoError(t, e.Drain(context.Background()))
	seen := map[string]int64{}
	for _, l := range e.Stats().Labels {
		_, dup := seen[l.Label]
		require.False(t, dup, "label %q listed twice", l.Label)
		seen[l.Label] = l.Succeeded
	}
	assert.Equal(t, map[string]int64{"a": 1, OverflowLabel: 4}, seen)
}

// A new label costs O(1): 20,000 distinct labels under a raised cap
// allocate megabytes, not the gigabytes a map copied per new label took.
func TestManyLabelsCostLinear(t *testing.T) {
	t.Parallel()
	const n = 20_000
	var lt labelTable
	lt.init(n, func(string) *Counters { return newCounters(Unbounded, RetryPolicy{}, nil) })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		_, c := lt.get(fmt.Sprintf("label-%d", i))
		c.submitted.Add(1)
	}
	runtime.ReadMemStats(&after)
	perLabel := (after.TotalAlloc - before.TotalAlloc) / n
	assert.Less(t, perLabel, uint64(4096), "bytes allocated per new label")
	assert.Len(t, lt.snapshot().Labels, n)
}
