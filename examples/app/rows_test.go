package main

// This file holds the benchmark of usage rows per second through the
// batcher against one background task per row.

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/zap"
)

// BenchmarkUsageRows writes b.N usage rows into the example's SQLite file
// from 16 submitters, through the batcher (mode=batcher) or as one
// scheduler task per row (mode=task), and reports rows per second from the
// first submit to the last row committed. Both modes use the service's own
// DB, the batcher as the service configures it (-max-wait aside); every row must be written, or the benchmark fails.
//
//	go test -run '^$' -bench UsageRows -benchtime 20000x -count 10 .   (in examples/app)
func BenchmarkUsageRows(b *testing.B) {
	for _, mode := range []string{"batcher", "task"} {
		b.Run("mode="+mode, func(b *testing.B) {
			db, s := openBenchDB(b)
			add := rowAdder(b, db, s, mode)
			b.ResetTimer()
			start := time.Now()
			submit(b.N, 16, add)
			if err := s.Drain(context.Background()); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			b.StopTimer()
			if n, err := db.Count(context.Background(), "model_usage"); err != nil || n != b.N {
				b.Fatalf("%d rows of %d written (%v)", n, b.N, err)
			}
			b.ReportMetric(float64(b.N)/took.Seconds(), "rows/s")
		})
	}
}

// rowAdder returns the submit function of a mode. Submissions wait for room
// (MaxWait is a minute in both modes); a row refused all the same is missing
// from the table, and the count check fails the benchmark.
func rowAdder(b *testing.B, db *DB, s *fxasync.Scheduler, mode string) func(u Usage) {
	if mode == "batcher" {
		cfg, err := parseFlags([]string{"-max-wait", "1m"}) // the service's batcher as it runs by default
		if err != nil {
			b.Fatal(err)
		}
		w := NewWriters(s, db, cfg).Usage
		return func(u Usage) {
			if err := w.Add(context.Background(), u); err != nil {
				b.Error(err)
			}
		}
	}
	return func(u Usage) {
		s.Go(context.Background(), "usage-row", func(ctx context.Context) error { return db.InsertUsage(ctx, u) })
	}
}

func openBenchDB(b *testing.B) (*DB, *fxasync.Scheduler) {
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	db, err := OpenDB(Config{DBPath: filepath.Join(b.TempDir(), "rows.db")}, sd)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sd.Stop(context.Background()) })
	return db, fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxWait: time.Minute, DrainTimeout: time.Minute})
}

// submit calls add for n distinct rows from c goroutines.
func submit(n, c int, add func(Usage)) {
	var wg sync.WaitGroup
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += c {
				add(Usage{RequestID: fmt.Sprintf("r%d", i), Model: "m1", PromptTokens: 10, CompletionTokens: 20})
			}
		}()
	}
	wg.Wait()
}
