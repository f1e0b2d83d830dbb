package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// BenchmarkChatLoad loads POST /v1/chat/completions over loopback HTTP with
// 16 concurrent clients, usage logged through fxasync (mode=async) or in the
// handler (mode=sync), with a database delay of 0 and 5 ms per write. It
// reports the p50 and p99 latency and the throughput seen by the clients.
//
//	go test -run '^$' -bench ChatLoad -benchtime 3000x ./examples/app   (from examples/app: .)
func BenchmarkChatLoad(b *testing.B) {
	for _, delay := range []string{"0s", "5ms"} {
		for _, mode := range []string{"async", "sync"} {
			b.Run(fmt.Sprintf("delay=%s/mode=%s", delay, mode), func(b *testing.B) {
				addr := startInProcess(b, delay, mode == "sync")
				lat, took := load(b, addr, b.N, 16)
				b.ReportMetric(percentile(lat, 50), "p50-ms")
				b.ReportMetric(percentile(lat, 99), "p99-ms")
				b.ReportMetric(float64(b.N)/took.Seconds(), "req/s")
			})
		}
	}
}

func startInProcess(b *testing.B, delay string, syncLog bool) string {
	args := []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(b.TempDir(), "load.db"), "-log-delay", delay}
	if syncLog {
		args = append(args, "-sync-log")
	}
	cfg, err := parseFlags(args)
	if err != nil {
		b.Fatal(err)
	}
	var srv *Server
	app := fxtest.New(b, append(options(cfg), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.NewNop() }),
		fx.Populate(&srv))...)
	app.RequireStart()
	b.Cleanup(app.RequireStop)
	return srv.Addr()
}

// load sends n requests from c clients and returns each request's latency in
// milliseconds and the wall time of the whole load.
func load(b *testing.B, addr string, n, c int) ([]float64, time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	defer client.CloseIdleConnections()
	lat := make([]float64, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"load %d"}]}`, k)
				t0 := time.Now()
				resp, err := client.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				lat[k] = float64(time.Since(t0).Microseconds()) / 1000
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	return lat, took
}

func percentile(v []float64, p int) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[(len(s)-1)*p/100]
}
