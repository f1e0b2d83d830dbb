package fxshutdown_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// Stop runs each step once, however often and however concurrently it is
// called: a database is closed once.
func TestStopRunsEachStepOnce(t *testing.T) {
	t.Parallel()
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	var db, cache atomic.Int64
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { db.Add(1); return nil }})
	sd.Add(fxshutdown.Step{Name: "cache", Run: func(context.Context) error { cache.Add(1); return nil }})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, sd.Stop(context.Background())) }()
	}
	wg.Wait()
	require.NoError(t, sd.Stop(context.Background()))
	assert.Equal(t, int64(1), db.Load())
	assert.Equal(t, int64(1), cache.Load())
	assert.Len(t, sd.Outcomes(), 2)
}

// A zero Step.Timeout keeps the default bound, and a step that returned is taken
// at its word, never reported as overrunning.
func TestZeroTimeoutStepIsReportedTruthfully(t *testing.T) {
	t.Parallel()
	for i := 0; i < 50; i++ {
		sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
		sd.Add(fxshutdown.Step{Name: "quick", Run: func(context.Context) error { return nil }, Timeout: 0})
		require.NoError(t, sd.Stop(context.Background()), "round %d", i)
		assert.Equal(t, 5*time.Second, sd.Outcomes()[0].Bound, "Config.StepTimeout's documented default")
	}
}

// A step that calls runtime.Goexit is reported at once, not after its bound.
func TestGoexitStepIsReportedAtOnce(t *testing.T) {
	t.Parallel()
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "goexit", Run: func(context.Context) error { runtime.Goexit(); return nil }, Timeout: time.Hour})
	err := sd.Stop(context.Background()) // would take the hour
	assert.ErrorIs(t, err, fxshutdown.ErrStepGoexit)
}

type hostile struct{}

func (hostile) String() string { panic(hostile{}) }

// A step's panic is its error, whatever the panic value.
func TestPanickingStepWithHostileValue(t *testing.T) {
	t.Parallel()
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "boom", Run: func(context.Context) error { panic(hostile{}) }})
	err := sd.Stop(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom: step panicked: (fxshutdown_test.hostile value: rendering it panicked)")
}
