package main

import (
	"fmt"
	"io"
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
// 16 or 128 keep-alive clients and usage logged through the batcher
// (mode=batch, the default), not at all (mode=none, -no-usage), in the
// handler (mode=sync, -sync-log) or durable (mode=durable, -durable:
// written in the commit the requests share; with the 5 ms write delay, as
// River jobs the fast path claims), with a database that takes 0 or 5 ms
// per write. It reports the p50 and p99 latency and the throughput seen by the
// clients, and for mode=batch the rows written per transaction.
//
//	go test -run '^$' -bench ChatLoad -benchtime 20000x -count 5 .   (in examples/app)
func BenchmarkChatLoad(b *testing.B) {
	for _, delay := range []string{"0s", "5ms"} {
		for _, clients := range []int{16, 128} {
			for _, mode := range []string{"none", "batch", "sync", "durable"} {
				b.Run(fmt.Sprintf("delay=%s/clients=%d/mode=%s", delay, clients, mode), func(b *testing.B) {
					addr, w := startInProcess(b, delay, mode)
					lat, took := load(b, addr, b.N, clients)
					b.ReportMetric(percentile(lat, 50), "p50-ms")
					b.ReportMetric(percentile(lat, 99), "p99-ms")
					b.ReportMetric(float64(b.N)/took.Seconds(), "req/s")
					if st := w.Usage.Stats(); mode == "batch" && st.Batches > 0 {
						b.ReportMetric(float64(st.Flushed)/float64(st.Batches), "rows/txn")
					}
				})
			}
		}
	}
}

// BenchmarkDurableLoad is ChatLoad's -durable against its default (usage
// rows batched in memory), on SQLite and on Postgres (a new database on
// FXASYNC_POSTGRES_URL's server), at 16 and 128 clients: what making each
// row durable before the answer costs the service.
//
//	go test -run '^$' -bench DurableLoad -benchtime 20000x -count 5 .   (in examples/app)
func BenchmarkDurableLoad(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, clients := range []int{16, 128} {
			for _, mode := range []string{"batch", "durable"} {
				b.Run(fmt.Sprintf("db=%s/clients=%d/mode=%s", db, clients, mode), func(b *testing.B) {
					dsn := filepath.Join(b.TempDir(), "load.db")
					if db == "postgres" {
						dsn = postgresDB(b)
					}
					addr, _ := startInProcessOn(b, dsn, "0s", mode)
					lat, took := load(b, addr, b.N, clients)
					b.ReportMetric(percentile(lat, 50), "p50-ms")
					b.ReportMetric(percentile(lat, 99), "p99-ms")
					b.ReportMetric(float64(b.N)/took.Seconds(), "req/s")
				})
			}
		}
	}
}

func startInProcess(b *testing.B, delay, mode string) (string, *Writers) {
	return startInProcessOn(b, filepath.Join(b.TempDir(), "load.db"), delay, mode)
}

// startInProcessOn starts the service on the database dsn.
func startInProcessOn(b *testing.B, dsn, delay, mode string) (string, *Writers) {
	args := []string{"-addr", "127.0.0.1:0", "-db", dsn, "-log-delay", delay}
	switch mode {
	case "sync":
		args = append(args, "-sync-log")
	case "none":
		args = append(args, "-no-usage")
	case "durable":
		args = append(args, "-durable")
	}
	cfg, err := parseFlags(args)
	if err != nil {
		b.Fatal(err)
	}
	var srv *Server
	var w *Writers
	app := fxtest.New(b, append(options(cfg), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.NewNop() }),
		fx.Populate(&srv, &w))...)
	app.RequireStart()
	b.Cleanup(app.RequireStop)
	return srv.Addr(), w
}

// load sends n requests from c clients and returns each request's latency in
// milliseconds and the wall time of the whole load.
func load(b *testing.B, addr string, n, c int) ([]float64, time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
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
				_, _ = io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept alive
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
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
