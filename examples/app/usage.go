package main

// This file holds the batchers that write usage rows and stream events.

import (
	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncriver"
)

// Writers are the service's batched background writes: one transaction per
// batch. Built with the scheduler, before the handlers.
type Writers struct {
	Usage  *fxasync.Batcher[Usage]
	Events *fxasync.Batcher[streamEvent]
	// Durable is set with -durable: usage rows go through it instead.
	Durable *fxasyncriver.Kind[Usage]
}

// NewWriters builds the batchers. The drain flushes them before the database
// closes (DrainBefore[*DB]); what its bound cuts short of the usage rows goes
// to the scheduler's Keeper, River, when the hand-off is on (Keep).
// Each batcher is bounded in rows and, its rows being fxasync.Sizers, in
// bytes (-max-pending-bytes).
func NewWriters(s *fxasync.Scheduler, db *DB, cfg Config) *Writers {
	bc := fxasync.BatcherConfig{MaxBatch: cfg.BatchSize, MaxDelay: cfg.BatchDelay, MaxPending: cfg.MaxPendingRows,
		MaxWait: cfg.MaxWait, MaxPendingBytes: cfg.MaxPendingBytes}
	kept := bc
	kept.Keep = true // usage rows are River's "usage-row" jobs (durable.go)
	return &Writers{
		Usage:  fxasync.NewBatcher(s, "usage-rows", db.InsertUsageBatch, kept),
		Events: fxasync.NewBatcher(s, "stream-events", db.InsertEvents, bc),
	}
}

// rowOverhead is what a pending row costs besides its strings: the item
// in the batcher's buffer and the strings' headers.
const rowOverhead = 96

// Size makes a usage row an fxasync.Sizer: its strings and the rest.
func (u Usage) Size() int { return rowOverhead + len(u.RequestID) + len(u.Model) }

// Size makes a stream event an fxasync.Sizer.
func (e streamEvent) Size() int { return rowOverhead + len(e.Type) + len(e.raw) }
