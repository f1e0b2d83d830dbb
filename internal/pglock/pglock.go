// Package pglock runs a function under a Postgres session advisory lock,
// for start-up work that replicas starting at once must do one at a time
// (migrations, CREATE TABLE IF NOT EXISTS). It speaks database/sql and
// imports no driver.
package pglock

import (
	"context"
	"database/sql"
)

// Do takes the advisory lock key on one connection of db, runs f, and
// releases the lock, even when ctx ends. The lock holds that connection
// while f runs: db must allow f another.
func Do(ctx context.Context, db *sql.DB, key int64, f func() error) error {
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
