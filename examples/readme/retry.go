package main

// This file holds docs/faults.md's retry settings: the writes a database
// outage must not lose are retried, a row the database refuses is not.

import (
	"context"
	"errors"
	"time"

	"github.com/fxtools/background/fxasync"
)

// retryConfig retries the usage writes for up to a minute, within the
// label's budget; every other label's tasks are tried once.
func retryConfig() fxasync.Config {
	return fxasync.Config{
		LabelRetries: map[string]fxasync.Retry{
			"log-usage": {MaxAttempts: 8, MaxElapsed: time.Minute},
		},
	}
}

var errInvalidRow = errors.New("invalid row")

// insertUsageOnce is a write that is safe to retry: the row's unique key
// makes a second write after a lost COMMIT answer a no-op, and a row the
// database will never take is Permanent, so it is not retried.
func insertUsageOnce(ctx context.Context, db *DB, u Usage) error {
	if u.Path == "" {
		return fxasync.Permanent(errInvalidRow)
	}
	// INSERT INTO usage (request_id, path) VALUES ($1, $2)
	//     ON CONFLICT (request_id) DO NOTHING
	return db.InsertUsage(ctx, u)
}
