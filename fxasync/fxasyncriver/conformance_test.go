package fxasyncriver

// This file runs the fxasync.Keeper conformance suite against the HandOff,
// on SQLite and on Postgres.

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/keepertest"
	"github.com/stretchr/testify/require"
)

// keptA and keptB are the suite's two kinds.
type keptA struct {
	ID int `json:"id"`
}

func (keptA) Kind() string { return "kept_a" }

type keptB struct {
	ID int `json:"id"`
}

func (keptB) Kind() string { return "kept_b" }

// unregistered is River job args of a kind no HandOff here registers.
type unregistered struct{}

func (unregistered) Kind() string { return "unregistered" }

func noop[T JobArgs](context.Context, *sql.Tx, T) error { return nil }

func TestKeeperConformanceSQLite(t *testing.T) {
	runConformance(t, SQLite, func(t *testing.T) *sql.DB {
		db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
		require.NoError(t, err)
		return db
	})
}

func TestKeeperConformancePostgres(t *testing.T) {
	postgresURL(t) // skips, visibly, without a server (fails in CI)
	runConformance(t, Postgres, func(t *testing.T) *sql.DB {
		db, err := openPostgres(postgresURL(t))
		require.NoError(t, err)
		return db
	})
}

func runConformance(t *testing.T, d Dialect, open func(t *testing.T) *sql.DB) {
	unstorable := []any{hostile{Key: "p", Panic: true}, hostile{Key: "f", Fail: true}, unregistered{}, "not job args"}
	if d == Postgres {
		unstorable = append(unstorable, hostile{Key: "nul\x00byte"})
	}
	keepertest.Run(t, keepertest.Harness{
		New: func(t *testing.T) (fxasync.Keeper, func(string) []int) {
			db := open(t)
			h := New(db, Config{Dialect: d})
			Register(h, nil, noop[keptA]) // kept jobs run on River's workers
			Register(h, nil, noop[keptB])
			Register(h, nil, writeHostile(d))
			require.NoError(t, h.Start(context.Background()))
			t.Cleanup(func() {
				require.NoError(t, h.Stop(context.Background()))
				require.NoError(t, db.Close())
			})
			return h, func(kind string) []int { return keptIDs(t, db, d, kind) }
		},
		Kinds: []string{keptA{}.Kind(), keptB{}.Kind()},
		Item: func(kind string, id int) any {
			if kind == (keptA{}).Kind() {
				return keptA{ID: id}
			}
			return keptB{ID: id}
		},
		Unstorable: func() []any { return unstorable },
	})
}

// keptIDs reads the ids of kind's jobs, whatever their state (River may
// have run them already).
func keptIDs(t *testing.T, db *sql.DB, d Dialect, kind string) []int {
	q := "SELECT json(args) FROM river_job WHERE kind = ?" // River keeps SQLite's binary JSON
	if d == Postgres {
		q = "SELECT args FROM river_job WHERE kind = $1"
	}
	rows, err := db.Query(q, kind)
	require.NoError(t, err)
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var raw string
		require.NoError(t, rows.Scan(&raw))
		var a keptA
		require.NoError(t, json.Unmarshal([]byte(raw), &a), "%q", raw)
		ids = append(ids, a.ID)
	}
	require.NoError(t, rows.Err())
	return ids
}
