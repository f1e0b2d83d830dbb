package main

// This file holds the README's keyed work: the newest value per key.

import (
	"context"

	"github.com/fxtools/background/fxasync"
)

// NewPresence writes each user's newest status: a user whose status flips
// a thousand times while one write runs costs one more write, and the last
// write is always the last status.
func NewPresence(sched *fxasync.Scheduler, db *DB) *fxasync.Coalescer[string, string] {
	return fxasync.NewCoalescer(sched, "presence", func(ctx context.Context, user, status string) error {
		return db.SetStatus(ctx, user, status)
	}, fxasync.CoalescerConfig{})
}

// SetStatus stores a user's status.
func (db *DB) SetStatus(_ context.Context, user, status string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return errClosed
	}
	if db.status == nil {
		db.status = map[string]string{}
	}
	db.status[user] = status
	return nil
}
