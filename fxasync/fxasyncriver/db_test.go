package fxasyncriver

// This file holds the tests' databases: a SQLite file, or a new Postgres
// database on FXASYNC_POSTGRES_URL's server, each with an effects table
// the handlers write.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // Postgres through database/sql
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // pure-Go SQLite
)

// openSQLite opens path as the example does: WAL, one connection.
func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY, key TEXT NOT NULL)`)
	return db, err
}

// postgresURL returns a new database's URL on FXASYNC_POSTGRES_URL's
// server, dropped after the test; it skips the test, visibly, when the
// variable is unset.
func postgresURL(t *testing.T) string {
	base := os.Getenv("FXASYNC_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FXASYNC_POSTGRES_URL is unset in CI: .ci/run must start Postgres and set it")
		}
		t.Skip("FXASYNC_POSTGRES_URL is unset: skipping the Postgres test (.ci/run sets it)")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	name := fmt.Sprintf("fxasyncriver_%d_%d", time.Now().Unix(), rand.Uint32())
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// openPostgres opens url with idle connections for River's workers and the
// fast paths: database/sql keeps 2 by default, and reconnecting on every
// transaction made the race test five times slower (53 s against 11 s).
func openPostgres(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(40)
	db.SetMaxIdleConns(40)
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS effects (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL)`)
	return db, err
}

// effect is the tests' task: it writes one row with its key.
type effect struct {
	Key string `json:"key"`
}

func (effect) Kind() string { return "effect" }

// writeEffect is effect's handler for a dialect.
func writeEffect(d Dialect) Handler[effect] {
	q := "INSERT INTO effects (key) VALUES (?)"
	if d == Postgres {
		q = "INSERT INTO effects (key) VALUES ($1)"
	}
	return func(ctx context.Context, tx *sql.Tx, e effect) error {
		_, err := tx.ExecContext(ctx, q, e.Key)
		return err
	}
}

// effects returns the rows written and the distinct keys among them.
func effects(t testing.TB, db *sql.DB) (rows, distinct int) {
	err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT key) FROM effects").Scan(&rows, &distinct)
	require.NoError(t, err)
	return rows, distinct
}

// unfinished counts River's jobs not yet completed (or discarded).
func unfinished(t testing.TB, db *sql.DB) int {
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&n)
	require.NoError(t, err)
	return n
}
