package benchmarks

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncprom"
	"github.com/panjf2000/ants/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/pool"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// sink keeps task bodies from being optimised away.
var sink atomic.Int64

func body() { sink.Add(1) }

// A runner submits one trivial task and, at the end, waits for all of them.
type runner struct {
	submit func()
	wait   func()
}

// runners are built fresh for each benchmark run.
var runners = []struct {
	name string
	make func() runner
}{
	{"impl=floor", func() runner { // wg.Add(1); go func(){ defer wg.Done(); f() }()
		var wg sync.WaitGroup
		return runner{func() { wg.Add(1); go func() { defer wg.Done(); body() }() }, wg.Wait}
	}},
	{"impl=tracker", newTracker},
	{"impl=fxasync", func() runner { return newFxasync(fxasync.Config{}) }},
	// The same with no bound: a serial submitter that outruns the workers
	// reaches the default bound and waits (backpressure); this shows its cost.
	{"impl=fxasync-unbounded", func() runner { return newFxasync(fxasync.Config{MaxPending: fxasync.Unbounded}) }},
	{"impl=fxasync-callsites", func() runner { return newFxasync(fxasync.Config{CallSites: true}) }},
	{"impl=fxasync-pprof", func() runner { return newFxasync(fxasync.Config{PprofLabels: true}) }},
	{"impl=fxasync-prom", newFxasyncProm},
	{"impl=conc-wg", func() runner {
		var wg conc.WaitGroup
		return runner{func() { wg.Go(body) }, wg.Wait}
	}},
	{"impl=conc-pool", func() runner {
		p := pool.New()
		return runner{func() { p.Go(body) }, p.Wait}
	}},
	{"impl=errgroup", func() runner {
		var g errgroup.Group
		return runner{func() { g.Go(func() error { body(); return nil }) }, func() { _ = g.Wait() }}
	}},
	{"impl=ants", func() runner {
		p, _ := ants.NewPool(1 << 20)
		var wg sync.WaitGroup
		return runner{func() { wg.Add(1); _ = p.Submit(func() { defer wg.Done(); body() }) }, func() { wg.Wait(); _ = p.ReleaseTimeout(10 * time.Second) }}
	}},
	{"impl=pond-go", func() runner {
		p := pond.NewPool(0)
		return runner{func() { _ = p.Go(body) }, p.StopAndWait}
	}},
	{"impl=pond-submit", func() runner {
		p := pond.NewPool(0)
		return runner{func() { p.Submit(body) }, p.StopAndWait}
	}},
}

// newTracker is a minimal correct tracker: recover, an atomic count, a wait.
func newTracker() runner {
	var wg sync.WaitGroup
	var failed atomic.Int64
	return runner{func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if recover() != nil {
					failed.Add(1)
				}
			}()
			body()
		}()
	}, wg.Wait}
}

// BenchmarkGo: one goroutine submits b.N trivial tasks, then waits for all.
func BenchmarkGo(b *testing.B) {
	for _, r := range runners {
		b.Run(r.name, func(b *testing.B) {
			run := r.make()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				run.submit()
			}
			run.wait()
		})
	}
}

// BenchmarkGoParallel: GOMAXPROCS goroutines submit, then one waits for all.
func BenchmarkGoParallel(b *testing.B) {
	for _, r := range runners {
		b.Run(r.name, func(b *testing.B) {
			run := r.make()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					run.submit()
				}
			})
			run.wait()
		})
	}
}

// newFxasync is Scheduler.Go with per-label stats and duration histograms
// (always on; the Prometheus collector reads them at scrape time), and cfg.
func newFxasync(cfg fxasync.Config) runner {
	cfg.Logger = zap.NewNop()
	s := fxasync.New(cfg)
	ctx := context.Background()
	fn := func(context.Context) error { body(); return nil }
	return runner{func() { s.Go(ctx, "bench", fn) }, func() { _ = s.Drain(ctx) }}
}

// newFxasyncProm is fxasync with its Prometheus collector registered and
// scraped once at the end: the collector reads counters the scheduler keeps
// anyway, so it should cost nothing per task.
func newFxasyncProm() runner {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	reg := prometheus.NewRegistry()
	reg.MustRegister(fxasyncprom.NewCollector(s))
	ctx := context.Background()
	fn := func(context.Context) error { body(); return nil }
	return runner{func() { s.Go(ctx, "bench", fn) }, func() { _ = s.Drain(ctx); _, _ = reg.Gather() }}
}
