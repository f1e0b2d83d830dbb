package fxasync_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// 5. At the bound Drain cancels the stragglers, waits the grace, warns once
// naming what still runs, and returns an error wrapping DeadlineExceeded.
func TestDrainBoundNamesStuckTasks(t *testing.T) {
	s, logs := newScheduler(t, fxasync.Config{DrainTimeout: 20 * time.Millisecond, Grace: 20 * time.Millisecond})
	stuck, quitting := make(chan struct{}), make(chan struct{})
	defer close(stuck)
	started := make(chan struct{}, 2)
	s.Go(context.Background(), "stuck-write", func(context.Context) error { started <- struct{}{}; <-stuck; return nil })
	s.Go(context.Background(), "polite", func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		close(quitting)
		return ctx.Err()
	})
	<-started
	<-started
	err := s.Drain(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	<-quitting
	var de *fxasync.DrainError
	require.True(t, errors.As(err, &de))
	assert.Equal(t, 2, de.Cancelled)
	require.Len(t, de.Running, 1)
	assert.Equal(t, "stuck-write", de.Running[0].Label)
	assert.Positive(t, de.Running[0].Age)
	require.Len(t, de.AtBound, 2)
	assert.Contains(t, err.Error(), "still running after the grace: [stuck-write: 1 (oldest ")

	warns := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessage("async tasks did not drain in time").All()
	require.Len(t, warns, 1)
	assert.Equal(t, 1, logs.FilterMessage("async task failed after the drain cancelled it").Len(),
		"the polite task's cancellation: a warning, not an error")
	assert.Zero(t, logs.FilterLevelExact(zapcore.ErrorLevel).Len())
	fields := warns[0].ContextMap()
	stillRunning := fields["still_running"].([]any)
	require.Len(t, stillRunning, 1)
	assert.Contains(t, stillRunning[0], "stuck-write: 1 (oldest ")
	assert.Len(t, fields["running_at_bound"], 2)
}

// 5b. The caller's deadline bounds Drain when it is earlier than the timeout.
func TestDrainHonoursContextDeadline(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: time.Hour, Grace: time.Millisecond})
	started := make(chan struct{})
	s.Go(context.Background(), "slow", func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := s.Drain(ctx) // would hang for an hour if ctx were ignored
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var de *fxasync.DrainError
	require.ErrorAs(t, err, &de)
	assert.Empty(t, de.Running, "the task returned within the grace")
}

// 6. During a drain, follow-up tasks from running tasks are admitted and
// waited for; other submissions are refused, logged and counted.
func TestDrainAdmitsFollowUpWorkOnly(t *testing.T) {
	s, logs := newScheduler(t)
	draining, release := make(chan struct{}), make(chan struct{})
	var spans atomic.Int64
	s.Go(context.Background(), "tracing-ingest", func(ctx context.Context) error {
		<-release
		for i := 0; i < 10; i++ {
			assert.NoError(t, fxasync.New(fxasync.Config{}).Drain(ctx)) // unrelated schedulers do not interfere
			s.Go(ctx, "tracing-span", func(context.Context) error { spans.Add(1); return nil })
		}
		return nil
	})
	drained := make(chan error, 1)
	go func() { close(draining); drained <- s.Drain(context.Background()) }()
	<-draining
	require.Eventually(t, func() bool {
		return errors.Is(s.TryGo(context.Background(), "outsider", ok), fxasync.ErrClosed)
	}, 10*time.Second, time.Millisecond)
	close(release)
	require.NoError(t, <-drained)
	assert.Equal(t, int64(10), spans.Load(), "follow-up tasks ran before Drain returned")

	s.Go(context.Background(), "late", ok)
	assert.Equal(t, 1, logs.FilterMessage("async task rejected").FilterField(zapLabel("late")).Len())
	err := s.TryGo(context.Background(), "late", ok)
	assert.ErrorIs(t, err, fxasync.ErrClosed)
	assert.Contains(t, err.Error(), `"late"`)
	for _, l := range s.Stats().Labels {
		if l.Label == "late" {
			assert.Equal(t, int64(2), l.Rejected)
		}
	}
}

// 7. Drain is idempotent and every concurrent caller returns when it is over.
func TestDrainConcurrentAndIdempotent(t *testing.T) {
	s, _ := newScheduler(t)
	release := make(chan struct{})
	var finished atomic.Bool
	s.Go(context.Background(), "work", func(context.Context) error { <-release; finished.Store(true); return nil })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Drain(context.Background())
			if !finished.Load() {
				err = errors.New("Drain returned before the task finished")
			}
			errs <- err
		}()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.NoError(t, s.Drain(context.Background()))
}

// A task racing with Drain either runs and is waited for, or is refused.
func TestStressSubmitRacingDrain(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	for r := 0; r < rounds; r++ {
		s, _ := newScheduler(t)
		var admitted, ran, refused atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					err := s.TryGo(context.Background(), "race", func(ctx context.Context) error {
						ran.Add(1)
						// follow-up work from inside is always admitted while the parent runs
						return s.TryGo(ctx, "race-child", func(context.Context) error { ran.Add(1); return nil })
					})
					if err != nil {
						refused.Add(1)
					} else {
						admitted.Add(2)
					}
				}
			}()
		}
		require.NoError(t, s.Drain(context.Background()))
		wg.Wait()
		pendingAfter := s.Pending()
		require.Equal(t, admitted.Load(), ran.Load(), "round %d", r)
		require.Equal(t, int64(400), admitted.Load()/2+refused.Load())
		require.Equal(t, 0, pendingAfter)
		st := s.Stats().Total
		require.Equal(t, admitted.Load(), st.Succeeded)
		require.Equal(t, refused.Load(), st.Rejected)
	}
}
