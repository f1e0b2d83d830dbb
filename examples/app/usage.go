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
// closes (DrainBefore[*DB]).
// Each batcher is bounded in rows and in bytes (-max-pending-bytes): a row
// is its strings and a fixed share for the rest.
func NewWriters(s *fxasync.Scheduler, db *DB, cfg Config) *Writers {
	return &Writers{
		Usage: fxasync.NewBatcher(s, "usage-rows", db.InsertUsageBatch, fxasync.BatcherConfig[Usage]{
			MaxBatch: cfg.BatchSize, MaxDelay: cfg.BatchDelay, MaxPending: cfg.MaxPendingRows, MaxWait: cfg.MaxWait,
			MaxPendingBytes: cfg.MaxPendingBytes, Size: func(u Usage) int { return rowOverhead + len(u.RequestID) + len(u.Model) },
		}),
		Events: fxasync.NewBatcher(s, "stream-events", db.InsertEvents, fxasync.BatcherConfig[streamEvent]{
			MaxBatch: cfg.BatchSize, MaxDelay: cfg.BatchDelay, MaxPending: cfg.MaxPendingRows, MaxWait: cfg.MaxWait,
			MaxPendingBytes: cfg.MaxPendingBytes, Size: func(e streamEvent) int { return rowOverhead + len(e.Type) + len(e.raw) },
		}),
	}
}

// rowOverhead is what a pending row costs besides its strings: the item
// in the batcher's buffer and the strings' headers.
const rowOverhead = 96
