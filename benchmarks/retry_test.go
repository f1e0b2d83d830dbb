package benchmarks

// This file measures retries: the memory a task waiting for its next
// attempt costs (against a task parked on a channel, the floor of a
// goroutine-per-retry design), and how far past its bound plus grace a
// drain returns when a thousand tasks wait in a 10 s backoff.

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/zap"
)

var errDown = errors.New("down")

// waitingRetry is a scheduler whose tasks fail once and then wait an hour
// for their retry.
func waitingRetry() *fxasync.Scheduler {
	return fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded, DrainTimeout: -1, Grace: -1,
		Retry: fxasync.Retry{MaxAttempts: 2, MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxElapsed: fxasync.Unbounded, Budget: -1}})
}

// BenchmarkRetryWaitingMemory reports the bytes per task waiting for its
// retry (heap and stacks, after GC), against the same number of goroutines
// parked on a channel.
func BenchmarkRetryWaitingMemory(b *testing.B) {
	const n = 100_000
	b.Run("impl=parked-goroutine", func(b *testing.B) {
		var per float64
		for i := 0; i < b.N; i++ {
			per = warmPendingBytes(waiters[0].make, n)
		}
		b.ReportMetric(per, "B/task")
	})
	b.Run("impl=fxasync-retry", func(b *testing.B) {
		var per float64
		for i := 0; i < b.N; i++ {
			s := waitingRetry()
			before := memInUse()
			for j := 0; j < n; j++ {
				s.Go(context.Background(), "r", func(context.Context) error { return errDown })
			}
			for statsRetries(s) < n {
				time.Sleep(time.Millisecond)
			}
			per = float64(memInUse()-before) / n
			_ = s.Drain(context.Background()) // the drain cuts them: DrainTimeout none
		}
		b.ReportMetric(per, "B/task")
	})
}

func statsRetries(s *fxasync.Scheduler) int64 { return s.Stats().Total.Retries }

// BenchmarkDrainDuringBackoff: 1,000 tasks wait in a 10 s backoff, failing
// every attempt, when the drain begins with a 100 ms bound and 50 ms grace.
// It reports the drain's overshoot past bound + grace (p50, max over the
// rounds): no backoff may hold it.
func BenchmarkDrainDuringBackoff(b *testing.B) {
	const bound, grace = 100 * time.Millisecond, 50 * time.Millisecond
	var over []time.Duration
	for i := 0; i < b.N; i++ {
		s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: bound, Grace: grace,
			Retry: fxasync.Retry{MaxAttempts: fxasync.Unbounded, MinBackoff: 10 * time.Second, MaxBackoff: 10 * time.Second,
				MaxElapsed: fxasync.Unbounded, Budget: -1}})
		for j := 0; j < 1000; j++ {
			s.Go(context.Background(), "r", func(context.Context) error { return errDown })
		}
		for statsRetries(s) < 1000 {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		_ = s.Drain(context.Background())
		over = append(over, time.Since(start)-bound-grace)
	}
	sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
	b.ReportMetric(float64(over[len(over)/2].Microseconds())/1000, "ms-over-p50")
	b.ReportMetric(float64(over[len(over)-1].Microseconds())/1000, "ms-over-max")
}

// BenchmarkLatencyBesideAFailingLabel: one label fails every attempt, at
// 20,000 tasks a second; another label's tasks are started one at a time
// beside it. It reports the live label's start latency p50/p99 alone, beside
// the failing flood without retries, and beside it with retries (budget on:
// the difference is what retrying costs the other labels), and the flood's
// retries per first attempt, which the budget bounds.
func BenchmarkLatencyBesideAFailingLabel(b *testing.B) {
	for _, m := range []struct {
		name         string
		flood, retry bool
	}{{"mode=alone", false, false}, {"mode=beside-failing", true, false}, {"mode=beside-failing-retried", true, true}} {
		b.Run(m.name, func(b *testing.B) {
			cfg := fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded}
			if m.retry {
				cfg.Retry = fxasync.Retry{MaxAttempts: fxasync.Unbounded, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
			}
			s := fxasync.New(cfg)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if m.flood {
				wg.Add(1)
				go func() { defer wg.Done(); flood(s, stop) }()
			}
			lat := make([]time.Duration, b.N)
			started := make(chan time.Time, 1)
			for i := 0; i < b.N; i++ {
				time.Sleep(100 * time.Microsecond)
				t0 := time.Now()
				s.Go(context.Background(), "live", func(context.Context) error { started <- time.Now(); return nil })
				lat[i] = (<-started).Sub(t0)
			}
			close(stop)
			wg.Wait()
			_ = s.Drain(context.Background())
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "start-p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "start-p99-ns")
			if m.retry {
				var dead fxasync.LabelStats
				for _, l := range s.Stats().Labels {
					if l.Label == "dead" {
						dead = l
					}
				}
				b.ReportMetric(float64(dead.Retries)/float64(dead.Submitted), "retries/first")
			}
		})
	}
}

// flood submits 20 failing tasks a millisecond until stop closes.
func flood(s *fxasync.Scheduler, stop <-chan struct{}) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for i := 0; i < 20; i++ {
			s.Go(context.Background(), "dead", func(context.Context) error { return errDown })
		}
	}
}
