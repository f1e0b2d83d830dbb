package fxasyncriver

// This file holds the crash tests: a child process submits durable tasks
// and is killed with SIGKILL; a restart (SQLite) or a surviving client
// (Postgres) must write every committed task exactly once.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

const (
	childEnv    = "FXASYNC_RIVER_CHILD"  // "submit" or "recover"
	childDB     = "FXASYNC_RIVER_DB"     // a SQLite path, or a Postgres URL
	childDirect = "FXASYNC_RIVER_DIRECT" // "1": the kind has no Before, its tasks are written in their commit

	childSubmitters = 8 // the "submit" child's goroutines, each with one submission at a time
)

// child is the process under test: "submit" submits tasks from 8
// goroutines at once (their commits shared), tasks that take up to 300 ms
// before their transaction (or, direct, none: written in the commit),
// printing each key once its submission returned, until it is killed; "recover" starts the hand-off on the same
// database and exits once River has run every job.
func child() int {
	dsn := os.Getenv(childDB)
	d, open := SQLite, openSQLite
	if strings.HasPrefix(dsn, "postgres") {
		d, open = Postgres, openPostgres
	}
	db, err := open(dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if os.Getenv(childEnv) == "hang" {
		return hangInRiver(db, d)
	}
	h := New(db, Config{Dialect: d, Lease: 2 * time.Second})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	k := Register(h, s, writeEffect(d))
	if os.Getenv(childDirect) == "" {
		k.Before(func(context.Context, effect) error {
			time.Sleep(rand.N(300 * time.Millisecond)) // some written, some not, at the kill
			return nil
		})
	}
	if err := h.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if os.Getenv(childEnv) == "submit" {
		for g := range childSubmitters {
			go func() {
				for i := g; ; i += childSubmitters {
					if err := k.Submit(context.Background(), effect{Key: strconv.Itoa(i)}); err == nil {
						fmt.Println(i) // committed: the request was answered
					}
				}
			}()
		}
		select {}
	}
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&n); err == nil && n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Drain(ctx); err != nil {
		return 1
	}
	if err := h.Stop(ctx); err != nil {
		return 1
	}
	return 0
}

// hangInRiver is the "hang" child: it inserts one job for River (no fast
// path), whose run prints RUNNING and then hangs, until the child is
// killed.
func hangInRiver(db *sql.DB, d Dialect) int {
	h := New(db, Config{Dialect: d, Lease: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	k := Register(h, s, writeEffect(d)).Before(func(context.Context, effect) error {
		fmt.Println("RUNNING")
		select {}
	})
	if err := h.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tx, err := db.Begin()
	if err == nil {
		_, err = k.InsertTx(context.Background(), tx, effect{Key: "hung"})
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	select {}
}

// killAfter starts the test binary as a "submit" child on dsn, with env
// added, kills it with SIGKILL once n tasks are committed, and returns
// their keys.
func killAfter(t *testing.T, dsn string, n int, env ...string) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=submit", childDB+"="+dsn), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var keys []string
	sc := bufio.NewScanner(out)
	for len(keys) < n && sc.Scan() {
		keys = append(keys, sc.Text())
	}
	require.NoError(t, cmd.Process.Kill())
	for sc.Scan() { // lines already written before the kill were answered too
		keys = append(keys, sc.Text())
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, len(keys), n, "the child died early")
	return keys
}

// assertExactlyOnce checks that db holds exactly one effect per answered
// key, no key twice, and at most one key more per submitter: a submission
// can commit just before the kill, unanswered, and is then written too.
func assertExactlyOnce(t *testing.T, db *sql.DB, d Dialect, keys []string) {
	q := "SELECT COUNT(*) FROM effects WHERE key = ?"
	if d == Postgres {
		q = "SELECT COUNT(*) FROM effects WHERE key = $1"
	}
	rows, distinct := effects(t, db)
	assert.Equal(t, rows, distinct, "no key written twice")
	assert.GreaterOrEqual(t, rows, len(keys), "rows, for %d answered", len(keys))
	assert.LessOrEqual(t, rows, len(keys)+childSubmitters, "rows, for %d answered", len(keys))
	var wrong int
	for _, k := range keys {
		var n int
		require.NoError(t, db.QueryRow(q, k).Scan(&n))
		if n != 1 {
			wrong++
		}
	}
	assert.Zero(t, wrong, "answered keys not written exactly once")
}

// SQLite: SIGKILL with tasks pending and commits in flight, restart on the
// same file: the sweep runs every leased job at once, and each committed
// task is written once; a kind written in its commit has nothing pending.
func TestSIGKILLThenRestartWritesEachTaskOnce(t *testing.T) {
	t.Run("leased", func(t *testing.T) { sigkillThenRestart(t) })
	t.Run("direct", func(t *testing.T) { sigkillThenRestart(t, childDirect+"=1") })
}

func sigkillThenRestart(t *testing.T, env ...string) {
	path := filepath.Join(t.TempDir(), "app.db")
	keys := killAfter(t, path, 300, env...)
	db, err := openSQLite(path)
	require.NoError(t, err)
	defer db.Close()
	before, _ := effects(t, db)
	t.Logf("killed with %d committed, %d written", len(keys), before)

	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=recover", childDB+"="+path)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "the restarted process exits 0")
	t.Logf("restart ran the rest in %v", time.Since(start).Round(time.Millisecond))
	assertExactlyOnce(t, db, SQLite, keys)
}

// Postgres, two clients: one is killed with tasks pending; the survivor's
// River runs them when their lease ends, and each is written once.
func TestPostgresSurvivorRunsAKilledClientsTasks(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	survivor := newRig(t, db, Config{Dialect: Postgres, Lease: 2 * time.Second})
	keys := killAfter(t, url, 300)
	before, _ := effects(t, db)
	t.Logf("killed with %d committed, %d written", len(keys), before)
	survivor.settle(t)
	assertExactlyOnce(t, db, Postgres, keys)
	t.Logf("survivor's River ran %d", survivor.h.Stats()[0].ByQueue)
}

// Postgres, two clients racing for the same jobs: written once.
func TestPostgresTwoClientsRaceWritesOnce(t *testing.T) {
	url := postgresURL(t)
	var rigs []*rig
	for range 2 {
		db, err := openPostgres(url)
		require.NoError(t, err)
		rigs = append(rigs, newRig(t, db, Config{Dialect: Postgres, MaxWorkers: 20, PollInterval: 5 * time.Millisecond}))
	}
	raceRounds(t, rigs, 10, 100)
}

// Postgres: a replica is SIGKILLed while River runs a job there. The job
// stays "running" in the table; the survivor makes it runnable after
// RescueAfter (River's own rescue waits an hour) and writes it once.
func TestPostgresRescuesAJobRunningInAKilledReplica(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=hang", childDB+"="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan() && sc.Text() == "RUNNING", "the child's River runs the job")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	var state string
	require.NoError(t, db.QueryRow("SELECT state FROM river_job").Scan(&state))
	require.Equal(t, "running", state, "a SIGKILL leaves the job running")

	start := time.Now()
	survivor := newRig(t, db, Config{Dialect: Postgres, RescueAfter: 2 * time.Second, PollInterval: 100 * time.Millisecond})
	survivor.settle(t)
	rows, _ := effects(t, db)
	assert.Equal(t, 1, rows)
	t.Logf("rescued and written %v after the survivor started", time.Since(start).Round(time.Millisecond))
}
