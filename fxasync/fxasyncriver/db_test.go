package fxasyncriver

// This file holds the tests' databases: a SQLite file, or a new Postgres
// database on FXASYNC_POSTGRES_URL's server, each with an effects table
// the handlers write.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // Postgres through database/sql
	"github.com/stretchr/testify/assert"
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

// postgresURL creates a database on FXASYNC_POSTGRES_URL's server and
// returns its URL; it is dropped when the test ends. Without the variable
// the test is skipped, visibly — or fails when CI is set: .ci/run must
// start Postgres and set it.
func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("FXASYNC_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FXASYNC_POSTGRES_URL is unset in CI: .ci/run must start Postgres and set it")
		}
		t.Skip("FXASYNC_POSTGRES_URL is unset: skipping the Postgres test (.ci/run sets it)")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	name := fmt.Sprintf("fxasync_test_%d_%d", time.Now().Unix(), rand.Uint32())
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := neturl.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// openPostgres opens url with idle connections for River's workers and the
// fast paths: database/sql keeps 2 by default, and reconnecting on every
// transaction made the race test five times slower (53 s against 11 s). At
// most 45 open: the race test's two clients, unbounded, passed the server's
// 100 ("sorry, too many clients already"; fast paths failed and River's
// fetches too).
func openPostgres(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(45)
	db.SetMaxIdleConns(45)
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

// writeEffects is effect's batch handler for a dialect: one INSERT of
// every task's row.
func writeEffects(d Dialect) BatchHandler[effect] {
	return func(ctx context.Context, tx *sql.Tx, es []effect) error {
		keys := make([]any, len(es))
		for i, e := range es {
			keys[i] = e.Key
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO effects (key) VALUES "+d.params(len(es), "(", ")"), keys...)
		return err
	}
}

// effects returns the rows written and the distinct keys among them.
func effects(t testing.TB, db *sql.DB) (rows, distinct int) {
	err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT key) FROM effects").Scan(&rows, &distinct)
	require.NoError(t, err)
	return rows, distinct
}

// effectKeys returns the keys of the rows written, ordered by column by.
func effectKeys(t testing.TB, db *sql.DB, by string) []string {
	rows, err := db.Query("SELECT key FROM effects ORDER BY " + by)
	require.NoError(t, err)
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	return keys
}

// unfinished counts River's jobs not yet completed (or discarded).
func unfinished(t testing.TB, db *sql.DB) int {
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&n)
	require.NoError(t, err)
	return n
}

// refuseConnections makes url's database refuse new connections and
// terminates its sessions, as an outage would, on the shared server
// (never stopped); the function it returns lets connections in again, once
// however often it is called.
func refuseConnections(t testing.TB, url string) (restore func()) {
	t.Helper()
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", os.Getenv("FXASYNC_POSTGRES_URL"))
	require.NoError(t, err)
	_, err = admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	require.NoError(t, err)
	_, err = admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	require.NoError(t, err)
	var once sync.Once
	return func() {
		once.Do(func() {
			_, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
			assert.NoError(t, err)
			_ = admin.Close()
		})
	}
}
