package main

// This file holds -durable: usage rows as a durable task kind, kept by
// River in the service's own database until written.

import (
	"context"
	"database/sql"

	"github.com/fxtools/background/fxasync/fxasyncriver"
	"go.uber.org/fx"
)

// usageRow is a usage row as a durable task's args.
type usageRow Usage

func (usageRow) Kind() string { return "usage-row" }

// durableOptions wires the hand-off: River shares the service's *sql.DB,
// starts after it, and stops after the drain and before the database
// closes.
func durableOptions(cfg Config) fx.Option {
	if !cfg.Durable {
		return fx.Options()
	}
	return fx.Options(
		fx.Provide(func(d *DB) *sql.DB { return d.db }),
		fxasyncriver.Module,
		fx.Invoke(func(w *Writers, h *fxasyncriver.Handoff, d *DB) { w.Durable = registerUsage(h, d) }),
	)
}

// registerUsage registers usage rows as a durable kind. The write delay
// (-log-delay) is spent before the transaction: it must not hold SQLite's
// one connection, which River's own queries share.
func registerUsage(h *fxasyncriver.Handoff, d *DB) *fxasyncriver.Kind[usageRow] {
	return fxasyncriver.Register(h, func(ctx context.Context, tx *sql.Tx, u usageRow) error {
		return d.insertUsageTx(ctx, tx, []Usage{Usage(u)})
	}).Before(func(ctx context.Context, _ usageRow) error { return d.wait(ctx) })
}
