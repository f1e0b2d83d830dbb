package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -durable, writes slower than the requests (300 ms each): 300 requests
// answered, SIGKILL at once, restart on the same database. Within 30 s the
// table holds exactly one row per answered request id, and the restarted
// service exits 0 on SIGTERM. On SQLite the restart's sweep runs the jobs at
// once; on Postgres River runs them when their lease (here 3 s) ends.
func TestE2EDurableSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	bin := buildService(t)
	t.Run("sqlite", func(t *testing.T) { durableSIGKILL(t, bin, filepath.Join(t.TempDir(), "durable.db")) })
	t.Run("postgres", func(t *testing.T) { durableSIGKILL(t, bin, postgresDB(t)) })
}

func durableSIGKILL(t *testing.T, bin, dsn string) {
	args := []string{"-db", dsn, "-durable", "-log-delay", "300ms", "-lease", "3s"}
	p := startService(t, bin, args...)
	ids := chatIDs(t, p.addr, 300)
	require.Len(t, ids, 300, "answered")
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
	_ = p.cmd.Wait()
	atKill := countRows(t, dsn, "model_usage")

	start := time.Now()
	p = startService(t, bin, args...)
	waitForRows(t, dsn, "model_usage", len(ids))
	t.Logf("%d rows at the SIGKILL; the restart wrote the other %d in %v", atKill, len(ids)-atKill, time.Since(start).Round(time.Millisecond))
	code, _ := p.stop(t)
	require.Equal(t, 0, code, p.logs())
	rows := usageIDs(t, dsn)
	assert.Len(t, rows, len(ids), "rows")
	for _, id := range ids {
		assert.Equal(t, 1, rows[id], "rows for %s", id)
	}
}

// postgresDB creates a database on FXASYNC_POSTGRES_URL's server and
// returns its URL; it is dropped when the test ends. Without the variable
// the test is skipped, visibly — or fails when CI is set: .ci/run must
// start Postgres and set it.
func postgresDB(t testing.TB) string {
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
	name := fmt.Sprintf("fxasync_app_test_%d_%d", time.Now().Unix(), rand.Uint32())
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

// Default (in-memory) usage, writes of 3 s and a drain bound of 500 ms:
// 200 requests answered, SIGTERM. The drain's bound cuts the writes short,
// the stop hands the rows to River, exits 0 and its summary says so; the
// restart writes every answered request's row exactly once.
func TestE2EDrainBoundHandsUsageToRiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	bin := buildService(t)
	dbPath := filepath.Join(t.TempDir(), "spill.db")
	p := startService(t, bin, "-db", dbPath, "-log-delay", "3s", "-drain-timeout", "500ms")
	ids := chatIDs(t, p.addr, 200)
	require.Len(t, ids, 200, "answered")
	code, _ := p.stop(t)
	log := p.logs()
	require.Equal(t, 0, code, log)
	written := countRows(t, dbPath, "model_usage")
	summary := lineWith(log, `"msg":"shutdown finished"`)
	assert.Contains(t, summary, `"lost":0`, log)
	assert.Contains(t, summary, fmt.Sprintf(`async-tasks: ok (handed off %d task(s) to River)`, len(ids)-written), log)

	start := time.Now()
	p = startService(t, bin, "-db", dbPath)
	waitForRows(t, dbPath, "model_usage", len(ids))
	t.Logf("%d rows written before the stop; the restart wrote the %d handed off in %v", written, len(ids)-written,
		time.Since(start).Round(time.Millisecond))
	code, _ = p.stop(t)
	require.Equal(t, 0, code, p.logs())
	rows := usageIDs(t, dbPath)
	assert.Len(t, rows, len(ids), "rows")
	for _, id := range ids {
		assert.Equal(t, 1, rows[id], "rows for %s", id)
	}
}

// chatIDs sends n concurrent chat requests and returns the ids of those
// answered 200.
func chatIDs(t *testing.T, addr string, n int) []string {
	client := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"durable %d"}]}`, i)
			resp, err := client.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var r chatResponse
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&r) == nil {
				mu.Lock()
				ids = append(ids, r.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ids
}

// usageIDs counts model_usage rows per request id.
func usageIDs(t *testing.T, path string) map[string]int {
	db := openDSN(t, path)
	defer db.Close()
	rs, err := db.Query("SELECT request_id, COUNT(*) FROM model_usage GROUP BY request_id")
	require.NoError(t, err)
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var id string
		var n int
		require.NoError(t, rs.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rs.Err())
	return out
}
