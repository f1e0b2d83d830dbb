package fxasyncriver

// This file holds the Postgres session advisory lock under which replicas
// starting at once migrate one at a time. The example service has the same
// dozen lines, deliberately: modules share no internal package (their
// versions would not say when it changed).

import (
	"context"
	"database/sql"
)

// withAdvisoryLock takes the advisory lock key on one connection of db,
// runs f, and releases the lock, even when ctx ends. The lock holds that
// connection while f runs: db must allow f another.
func withAdvisoryLock(ctx context.Context, db *sql.DB, key int64, f func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()
	return f()
}
