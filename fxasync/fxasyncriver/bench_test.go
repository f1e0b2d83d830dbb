package fxasyncriver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
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

// BenchmarkDurableRows measures durable rows per second end to end: b.N
// tasks submitted by clients at once, each call returning once its job has
// committed, until every effect row is written. mode=tx-per-row is each
// task's job in a transaction of its own (InsertTx, commit, Run: Submit
// without group commit); mode=group is Submit, which writes the effects in
// the commit itself, a statement a task (Register); mode=group-batch is
// the same with a RegisterBatch handler writing the commit's effects in
// one INSERT; mode=group-leased is Submit for a kind with Before
// work, whose jobs the commit inserts and the fast path claims in
// batches. On SQLite, and on Postgres
// when FXASYNC_POSTGRES_URL is set (45 connections).
//
//	go test -run '^$' -bench DurableRows -benchtime 20000x -count 5 .   (in fxasync/fxasyncriver)
func BenchmarkDurableRows(b *testing.B) {
	for _, db := range []struct {
		name    string
		dialect Dialect
	}{{"sqlite", SQLite}, {"postgres", Postgres}} {
		for _, clients := range []int{16, 128} {
			for _, mode := range []string{"tx-per-row", "group", "group-batch", "group-leased"} {
				b.Run(fmt.Sprintf("db=%s/clients=%d/mode=%s", db.name, clients, mode), func(b *testing.B) {
					benchDurableRows(b, db.dialect, clients, mode)
				})
			}
		}
	}
}

func benchDurableRows(b *testing.B, d Dialect, clients int, mode string) {
	db, cfg := testDB(b, d), Config{Dialect: d}
	register := func(h *HandOff, s *fxasync.Scheduler) *Kind[effect] { return Register(h, s, writeEffect(d)) }
	if mode == "group-batch" {
		register = func(h *HandOff, s *fxasync.Scheduler) *Kind[effect] { return RegisterBatch(h, s, writeEffects(d)) }
	}
	r := newRigOf(b, db, cfg, register, mode == "group-leased")
	submit := r.kind.Submit
	if mode == "tx-per-row" {
		submit = func(ctx context.Context, e effect) error { return submitAlone(ctx, r, e) }
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				start := time.Now()
				if err := submit(context.Background(), effect{Key: strconv.Itoa(i)}); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	for rows, _ := effects(b, db); rows < b.N; rows, _ = effects(b, db) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	if st := r.h.Stats()[0]; mode != "tx-per-row" {
		b.ReportMetric(float64(st.Inserted+st.Direct)/float64(max(r.h.groups(), 1)), "tasks/commit")
	}
}

// submitAlone is a Submit without group commit: the job in a transaction
// of its own, then its fast path.
func submitAlone(ctx context.Context, r *rig, e effect) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	j, err := r.kind.InsertTx(ctx, tx, e)
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	j.Run(ctx)
	return nil
}
