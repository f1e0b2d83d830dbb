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
func NewWriters(s *fxasync.Scheduler, db *DB, cfg Config) *Writers {
	bc := fxasync.BatcherConfig{MaxBatch: cfg.BatchSize, MaxDelay: cfg.BatchDelay, MaxPending: cfg.MaxPendingRows,
		MaxWait: cfg.MaxWait}
	return &Writers{
		Usage:  fxasync.NewBatcher(s, "usage-rows", db.InsertUsageBatch, bc),
		Events: fxasync.NewBatcher(s, "stream-events", db.InsertEvents, bc),
	}
}
