package main

// This file holds the drill's database fault: Postgres refusing every new
// connection to one database and ending its sessions, as a failover or a
// network partition does, while the server itself and every other
// database keep running.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// outage makes the database name unreachable: new connections are refused
// (ALLOW_CONNECTIONS false) and its sessions terminated. restore undoes it;
// call it whatever happens (the drop needs it too).
func outage(ctx context.Context, admin *sql.DB, name string) (restore func() error, err error) {
	restore = func() error {
		_, err := admin.ExecContext(context.WithoutCancel(ctx), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
		return err
	}
	if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		return restore, fmt.Errorf("refuse connections: %w", err)
	}
	if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return restore, fmt.Errorf("terminate sessions: %w", err)
	}
	return restore, nil
}

// outageFor runs outage for d, terminating the sessions that slip in
// meanwhile (a connection opened just before the refusal) every 100 ms.
func outageFor(admin *sql.DB, name string, d time.Duration) error {
	ctx := context.Background()
	restore, err := outage(ctx, admin, name)
	defer func() { _ = restore() }()
	if err != nil {
		return err
	}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		_, _ = admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	}
	return restore()
}
