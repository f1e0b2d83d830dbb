package main

// This file holds the hand-off of usage rows to River: a registered kind,
// durable with -durable, and otherwise kept by River, the scheduler's
// Keeper, when the drain's bound cuts them short.

import (
	"context"
	"database/sql"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncriver"
	"go.uber.org/fx"
)

// Kind names usage rows as River's jobs.
func (Usage) Kind() string { return "usage-row" }

// handOffOptions wires the hand-off when usage goes through the background:
// River shares the service's *sql.DB, starts after it, and stops after the
// drain and before the database closes. By default usage rows are batched
// in memory and what the drain's bound cuts short is handed to River; with
// -durable each row is a job committed before the answer.
func handOffOptions(cfg Config) fx.Option {
	if cfg.NoUsage || cfg.SyncLog {
		return fx.Options()
	}
	dialect := fxasyncriver.SQLite
	if isPostgres(cfg.DBPath) {
		dialect = fxasyncriver.Postgres
	}
	return fx.Options(
		fx.Provide(func(d *DB) *sql.DB { return d.db }),
		fx.Supply(fxasyncriver.Config{Dialect: dialect, Lease: cfg.Lease}),
		fxasyncriver.Module,
		fx.Invoke(func(w *Writers, h *fxasyncriver.HandOff, s *fxasync.Scheduler, d *DB) {
			k := registerUsage(h, s, d) // also what River keeps of w.Usage at a stop
			if cfg.Durable {
				w.Durable = k
			}
		}),
	)
}

// registerUsage registers usage rows as a kind, written many to one
// INSERT: with -durable, those submitted together are written in their
// commit; River's worker writes one. A write delay (-log-delay) is spent
// before the transaction, as Before work: it must not hold SQLite's one
// connection, which River's own queries share. With it, a submission is a
// job, which the fast path claims and writes.
func registerUsage(h *fxasyncriver.HandOff, s *fxasync.Scheduler, d *DB) *fxasyncriver.Kind[Usage] {
	k := fxasyncriver.RegisterBatch(h, s, d.insertUsageTx)
	if d.delay > 0 {
		k.Before(func(ctx context.Context, _ Usage) error { return d.wait(ctx) })
	}
	return k
}
