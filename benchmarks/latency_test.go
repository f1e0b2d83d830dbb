package benchmarks

import (
	"context"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/zap"
)

// starter starts fn in the background; stop waits for what it started.
type starter struct {
	start func(fn func())
	stop  func()
}

var starters = []struct {
	name string
	make func() starter
}{
	{"impl=floor", func() starter { // a go statement
		var wg sync.WaitGroup
		return starter{func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }, wg.Wait}
	}},
	{"impl=fxasync", func() starter {
		s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded})
		ctx := context.Background()
		return starter{func(fn func()) { s.Go(ctx, "latency", func(context.Context) error { fn(); return nil }) },
			func() { _ = s.Drain(ctx) }}
	}},
}

// BenchmarkStartLatency measures the time from the call that starts a task
// to the task's first line, one task at a time, in three shapes: back to
// back, with 200 µs between tasks (idle workers park), and behind 1,000
// tasks blocked for the whole run. It reports p50 and p99 as start-p50-ns
// and start-p99-ns; ns/op is not the figure.
func BenchmarkStartLatency(b *testing.B) {
	for _, shape := range []struct {
		name    string
		pause   time.Duration
		blocked int
	}{{"shape=back-to-back", 0, 0}, {"shape=pause-200us", 200 * time.Microsecond, 0}, {"shape=behind-1000-blocked", 0, 1000}} {
		for _, st := range starters {
			b.Run(shape.name+"/"+st.name, func(b *testing.B) {
				s := st.make()
				release := make(chan struct{})
				for i := 0; i < shape.blocked; i++ {
					s.start(func() { <-release })
				}
				lat := make([]time.Duration, b.N)
				started := make(chan time.Time, 1)
				for i := 0; i < b.N; i++ {
					if shape.pause > 0 {
						time.Sleep(shape.pause) // the shape under test: workers go idle
					}
					t0 := time.Now()
					s.start(func() { started <- time.Now() })
					lat[i] = (<-started).Sub(t0)
				}
				close(release)
				s.stop()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "start-p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "start-p99-ns")
			})
		}
	}
}

// BenchmarkCPUPerTask starts tasks in bursts of 64 with 50 µs pauses, as a
// server's requests come, and reports the process's CPU time (user + system,
// from getrusage) per task as cpu-ns/task; ns/op is not the figure.
func BenchmarkCPUPerTask(b *testing.B) {
	for _, st := range starters {
		b.Run(st.name, func(b *testing.B) {
			s := st.make()
			before := cpuTime()
			for i := 0; i < b.N; i++ {
				if i%64 == 0 && i > 0 {
					time.Sleep(50 * time.Microsecond)
				}
				s.start(body)
			}
			s.stop()
			b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/task")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
