package fxasync_test

import (
	"context"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// LabelLimits bounds the labels it names; a zero value is LabelLimit, and
// Unbounded none. Keys are cleaned as labels are.
func TestLabelLimits(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{MaxPending: 100, LabelLimit: 2,
		LabelLimits: map[string]int{"one": 1, "default": 0, "free": fxasync.Unbounded, "": 3}})
	release := make(chan struct{})
	defer close(release)
	fill := func(label string) int {
		n := 0
		for s.TryGo(context.Background(), label, func(context.Context) error { <-release; return nil }) == nil {
			n++
		}
		return n
	}
	assert.Equal(t, 1, fill("one"))
	assert.Equal(t, 2, fill("default"))
	assert.Equal(t, 3, fill(""), "the empty label is UnlabeledLabel's")
	assert.Equal(t, 100-6, fill("free"), "only MaxPending bounds it")
}

// A negative DrainTimeout and Grace say "none": the drain gives up, and
// then reports, without the clock moving.
func TestNegativeDrainTimeoutAndGraceAreNone(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: -1, Grace: -1})
	var clk clock.Manual
	fxasync.SetClock(s, &clk)
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	s.Go(context.Background(), "stuck", func(context.Context) error { close(started); <-release; return nil })
	<-started
	done := make(chan error, 1)
	go func() { done <- s.Drain(context.Background()) }()
	clk.WaitForTimers(1)
	clk.Advance(0) // the bound: due now
	clk.WaitForTimers(1)
	clk.Advance(0) // the grace: due now
	var de *fxasync.DrainError
	require.ErrorAs(t, <-done, &de)
	assert.Equal(t, 1, de.Cancelled)
	assert.Equal(t, fxasync.Losses{{Label: "stuck", Running: 1}}, de.Lost)
}
