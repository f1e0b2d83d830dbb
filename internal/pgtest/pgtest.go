// Package pgtest gives tests a Postgres database of their own on the
// server FXASYNC_POSTGRES_URL names. It speaks database/sql through the
// driver named "pgx": the test binary imports github.com/jackc/pgx/v5/stdlib.
package pgtest

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"
)

// NewDatabase creates a database and returns its URL; it is dropped when
// the test ends. Without FXASYNC_POSTGRES_URL the test is skipped, visibly —
// or fails when CI is set: .ci/run must start Postgres and set it.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("FXASYNC_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FXASYNC_POSTGRES_URL is unset in CI: .ci/run must start Postgres and set it")
		}
		t.Skip("FXASYNC_POSTGRES_URL is unset: skipping the Postgres test (.ci/run sets it)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("fxasync_test_%d_%d", time.Now().Unix(), rand.Uint32())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
