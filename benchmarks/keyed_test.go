package benchmarks

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/zap"
)

// hotStore is a cache whose write costs about a microsecond and a half of
// work, as a small remote write's client side does.
type hotStore struct {
	mu   sync.Mutex
	last map[int]int
}

func (h *hotStore) write(_ context.Context, k, v int) error {
	spin(1500 * time.Nanosecond)
	h.mu.Lock()
	h.last[k] = v
	h.mu.Unlock()
	return nil
}

func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// BenchmarkHotKeyWrites: b.N writes to 10 hot keys, then the drain; ns/op
// is per value set, everything written by the end. mode=task is one task
// per write (the baseline), mode=coalescer a Coalescer's Set.
func BenchmarkHotKeyWrites(b *testing.B) {
	for _, mode := range []string{"mode=task", "mode=coalescer"} {
		b.Run(mode, func(b *testing.B) {
			s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: time.Minute})
			store := &hotStore{last: map[int]int{}}
			c := fxasync.NewCoalescer(s, "hot", store.write, fxasync.CoalescerConfig{})
			b.ResetTimer()
			for i := range b.N {
				if mode == "mode=task" {
					s.Go(context.Background(), "hot", func(ctx context.Context) error { return store.write(ctx, i%10, i) })
				} else {
					_ = c.Set(context.Background(), i%10, i)
				}
			}
			_ = s.Drain(context.Background())
			b.StopTimer()
			st := s.Stats().Total
			b.ReportMetric(float64(st.Succeeded)/float64(b.N), "writes/set")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sets/s")
		})
	}
}

// BenchmarkSetCost: what a submission costs the caller, with a trivial
// write: mode=task is Go, mode=set-new-key a Set on a key with nothing
// waiting (a task of its own), mode=set-hot-key a Set that replaces a
// waiting value, mode=keyed GoKeyed on 100 keys.
func BenchmarkSetCost(b *testing.B) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	for _, mode := range []string{"mode=task", "mode=set-new-key", "mode=set-hot-key", "mode=keyed"} {
		b.Run(mode, func(b *testing.B) {
			s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded})
			release := make(chan struct{})
			c := fxasync.NewCoalescer(s, "set", func(_ context.Context, k, _ int) error {
				if k < 0 {
					<-release // the hot key's write, held so every Set replaces
				}
				body()
				return nil
			}, fxasync.CoalescerConfig{})
			_ = c.Set(context.Background(), -1, 0)
			_ = c.Set(context.Background(), -1, 0)
			b.ResetTimer()
			for i := range b.N {
				switch mode {
				case "mode=task":
					s.Go(context.Background(), "set", func(context.Context) error { body(); return nil })
				case "mode=set-new-key":
					_ = c.Set(context.Background(), i, i)
				case "mode=set-hot-key":
					_ = c.Set(context.Background(), -1, i)
				case "mode=keyed":
					s.GoKeyed(context.Background(), "set", keys[i%len(keys)], func(context.Context) error { body(); return nil })
				}
			}
			b.StopTimer()
			close(release)
			_ = s.Drain(context.Background())
		})
	}
}
