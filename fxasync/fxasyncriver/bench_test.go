package fxasyncriver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkSubmit measures what a request pays to hand over one task of a
// kind on SQLite (the example's settings): mode=memory is Kind.Go (nothing
// written before it returns), mode=durable is Kind.Submit (the job
// committed before it returns). It reports the p50 and p99 of one call;
// the tasks' own writes run meanwhile, as in a service.
//
//	go test -run '^$' -bench Submit -benchtime 5000x -count 5 .   (in fxasync/fxasyncriver)
func BenchmarkSubmit(b *testing.B) {
	for _, mode := range []string{"memory", "durable"} {
		b.Run("mode="+mode, func(b *testing.B) {
			db, err := openSQLite(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			r := newRig(b, db, Config{})
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				e := effect{Key: fmt.Sprint(i)}
				start := time.Now()
				if mode == "memory" {
					err = r.kind.Go(context.Background(), e)
				} else {
					err = r.kind.Submit(context.Background(), e)
				}
				lat[i] = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
