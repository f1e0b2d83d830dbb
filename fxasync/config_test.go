package fxasync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// Options compare with == (comparing two WithGrace options used to panic:
// they held a func), and a Config is an Option.
func TestOptionsAreComparableAndConfigIsOne(t *testing.T) {
	t.Parallel()
	assert.NotPanics(t, func() {
		assert.True(t, fxasync.WithGrace(time.Second) == fxasync.WithGrace(time.Second))
		assert.False(t, fxasync.WithGrace(time.Second) == fxasync.WithGrace(2*time.Second))
		assert.True(t, fxasync.WithCallSites() == fxasync.Option(fxasync.Config{CallSites: true}))
	})
	assert.Contains(t, fmt.Sprintf("%+v", fxasync.WithDrainTimeout(time.Second)), "DrainTimeout:1s Grace:0s",
		"options print as the Config they are")

	s := fxasync.New(fxasync.Config{MaxInFlight: 1, Logger: zap.NewNop()}, fxasync.WithDrainTimeout(time.Minute))
	release := make(chan struct{})
	s.Go(context.Background(), "hold", func(context.Context) error { <-release; return nil })
	assert.ErrorIs(t, s.TryGo(context.Background(), "more", ok), fxasync.ErrFull, "the Config's MaxInFlight applied")
	close(release)
	require.NoError(t, s.Drain(context.Background()))
}

// Later options override earlier ones field by field; zero fields keep what
// was set before.
func TestOptionsApplyInOrder(t *testing.T) {
	t.Parallel()
	s := fxasync.New(fxasync.WithMaxInFlight(1), fxasync.Config{DrainTimeout: time.Minute, LabelLimit: fxasync.Unbounded},
		fxasync.WithMaxInFlight(2))
	defer func() { _ = s.Drain(context.Background()) }()
	release := make(chan struct{})
	defer close(release)
	for i := 0; i < 2; i++ {
		require.NoError(t, s.TryGo(context.Background(), "slot", func(context.Context) error { <-release; return nil }))
	}
	assert.ErrorIs(t, s.TryGo(context.Background(), "slot", ok), fxasync.ErrFull)
}
