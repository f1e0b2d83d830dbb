package benchmarks

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/zap"
)

// waiter is one tracker that can wait for a single blocked task.
type waiter struct {
	start func(fn func()) // start a task running fn
	wait  func()
}

var waiters = []struct {
	name string
	make func() waiter
}{
	{"impl=floor", func() waiter {
		var wg sync.WaitGroup
		return waiter{func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }, wg.Wait}
	}},
	{"impl=fxasync", func() waiter {
		// Unbounded: BenchmarkPendingMemory holds 100,000 tasks pending, ten
		// times the default bound.
		s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded})
		return waiter{func(fn func()) {
			s.Go(context.Background(), "wake", func(context.Context) error { fn(); return nil })
		}, func() { _ = s.Drain(context.Background()) }}
	}},
}

// BenchmarkDrainWakeup measures the time from the last task's return to the
// waiter's return (Drain, or sync.WaitGroup.Wait for the floor), and reports
// its median as wake-ns. ns/op includes the set-up and is not the figure.
func BenchmarkDrainWakeup(b *testing.B) {
	for _, w := range waiters {
		b.Run(w.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				lat = append(lat, wakeOnce(w.make()))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "wake-ns")
		})
	}
}

func wakeOnce(w waiter) time.Duration {
	release := make(chan struct{})
	var returned time.Time
	w.start(func() { <-release; returned = time.Now() })
	done := make(chan time.Time)
	go func() { w.wait(); done <- time.Now() }()
	time.Sleep(50 * time.Microsecond) // let the waiter block
	close(release)
	return (<-done).Sub(returned)
}

// BenchmarkPendingMemory holds 100,000 tasks pending and reports the memory
// (heap and stacks) per pending task, as B/task.
func BenchmarkPendingMemory(b *testing.B) {
	const n = 100_000
	for _, w := range waiters {
		b.Run(w.name, func(b *testing.B) {
			var perTask float64
			for i := 0; i < b.N; i++ {
				perTask = warmPendingBytes(w.make, n)
			}
			b.ReportMetric(perTask, "B/task")
		})
	}
}

// warmPendingBytes is pendingBytes measured after a round it does not
// count: the first 100,000 goroutines of a process allocate their runtime
// records and later ones reuse them (as a server's do), so whichever ran
// first in the process would pay for that alone. The warm round's idle
// workers exit before the measured one starts.
func warmPendingBytes(newWaiter func() waiter, n int) float64 {
	base := runtime.NumGoroutine()
	pendingBytes(newWaiter(), n)
	for runtime.NumGoroutine() > base {
		time.Sleep(time.Millisecond)
	}
	return pendingBytes(newWaiter(), n)
}

func pendingBytes(w waiter, n int) float64 {
	release := make(chan struct{})
	before := memInUse()
	for i := 0; i < n; i++ {
		w.start(func() { <-release })
	}
	for runtime.NumGoroutine() < n { // every task has its goroutine
		runtime.Gosched()
	}
	after := memInUse()
	close(release)
	w.wait()
	return float64(after-before) / float64(n)
}

func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
