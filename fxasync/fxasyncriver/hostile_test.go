package fxasyncriver

// This file tests the hand-off against hostile args (a MarshalJSON that
// panics or fails, a NUL that Postgres' jsonb refuses), handlers that
// panic, a kind registered late, and a database that is gone at the stop.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// hostile is a task whose encoding can panic or fail.
type hostile struct {
	Key   string `json:"key"`
	Panic bool   `json:"panic,omitempty"`
	Fail  bool   `json:"fail,omitempty"`
}

func (hostile) Kind() string { return "hostile" }

func (h hostile) MarshalJSON() ([]byte, error) {
	switch {
	case h.Panic:
		panic("MarshalJSON broke")
	case h.Fail:
		return nil, errors.New("cannot encode")
	}
	type plain hostile
	return json.Marshal(plain(h))
}

func writeHostile(d Dialect) Handler[hostile] {
	write := writeEffect(d)
	return func(ctx context.Context, tx *sql.Tx, h hostile) error { return write(ctx, tx, effect{Key: h.Key}) }
}

// untilCut blocks a task until the drain's bound cancels it.
func untilCut(ctx context.Context, _ hostile) error { <-ctx.Done(); return ctx.Err() }

// cutRig is a started hand-off of the hostile kind whose tasks wait for the
// drain's bound (100 ms), so that the drain hands them to it.
type cutRig struct {
	db    *sql.DB
	sched *fxasync.Scheduler
	h     *HandOff
	kind  *Kind[hostile]
	logs  *observer.ObservedLogs // the scheduler's
}

func newCutRig(t *testing.T, db *sql.DB, d Dialect) *cutRig {
	return newHostileRig(t, db, d, untilCut)
}

// newHostileRig starts a hand-off of the hostile kind, with before as the
// kind's Before work when not nil.
func newHostileRig(t *testing.T, db *sql.DB, d Dialect, before func(context.Context, hostile) error) *cutRig {
	h := New(db, Config{Dialect: d})
	obs, logs := observer.New(zap.InfoLevel)
	s := fxasync.New(fxasync.Config{Logger: zap.New(obs), DrainTimeout: 100 * time.Millisecond, Keeper: h})
	k := Register(h, s, writeHostile(d))
	if before != nil {
		k.Before(before)
	}
	require.NoError(t, h.Start(context.Background()))
	return &cutRig{db: db, sched: s, h: h, kind: k, logs: logs}
}

// cutShort submits tasks as they are and n good ones (keys "0", "1", …),
// then drains within ctx: every one waits for the drain's bound, which
// cuts it short, and the drain hands it to River.
func (r *cutRig) cutShort(t *testing.T, ctx context.Context, n int, tasks ...hostile) {
	for i := range n {
		tasks = append(tasks, hostile{Key: fmt.Sprint(i)})
	}
	for _, task := range tasks {
		require.NoError(t, r.kind.Go(context.Background(), task))
	}
	require.Error(t, r.sched.Drain(ctx))
}

// keepLine is the scheduler's one line on what the keep lost, and why.
func (r *cutRig) keepLine(t *testing.T) string {
	lines := r.logs.FilterMessage("unfinished async work not kept").All()
	require.Len(t, lines, 1)
	return fmt.Sprint(lines[0].ContextMap())
}

// One task whose MarshalJSON panics and one whose MarshalJSON fails cost
// themselves: the ten good ones are kept, the two counted lost and logged
// with why, and River is stopped. The panic used to make the stop panic
// mid-spill: every task gone, counted 0, River left running.
func TestKeepSurvivesHostileMarshalJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := openSQLite(path)
	require.NoError(t, err)
	r := newCutRig(t, db, SQLite)
	r.cutShort(t, context.Background(), 10, hostile{Key: "p", Panic: true}, hostile{Key: "f", Fail: true})
	assert.Equal(t, fxasync.Losses{{Label: "hostile", Items: 2, Kept: 10}}, r.sched.LastDrain().Lost)
	assert.Contains(t, r.keepLine(t), "MarshalJSON panicked: MarshalJSON broke")
	require.NotPanics(t, func() { assert.NoError(t, r.h.Stop(context.Background())) })
	assert.Equal(t, int64(10), r.h.Stats()[0].Kept)
	assert.Nil(t, r.h.started(), "River was stopped")
	require.NoError(t, db.Close())

	db, err = openSQLite(path)
	require.NoError(t, err)
	rr := newHostileRig(t, db, SQLite, nil) // the restart: River runs what was kept
	require.Eventually(t, func() bool { rows, _ := effects(t, db); return rows == 10 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, rr.sched.Drain(context.Background()))
	require.NoError(t, rr.h.Stop(context.Background()))
	rows, distinct := effects(t, db)
	assert.Equal(t, 10, distinct)
	assert.Equal(t, 10, rows)
	require.NoError(t, db.Close())
}

// On Postgres, one task holding a NUL (jsonb refuses \u0000) is counted
// lost and the good ones are kept: it used to fail the whole spill, 0 of
// 10 good tasks handed off.
func TestKeepOnPostgresSkipsWhatJSONBRefuses(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, Postgres)
	r.cutShort(t, context.Background(), 10, hostile{Key: "nul\x00byte"}, hostile{Key: `a literal \u0000 is fine`})
	assert.Equal(t, fxasync.Losses{{Label: "hostile", Items: 1, Kept: 11}}, r.sched.LastDrain().Lost)
	assert.Contains(t, r.keepLine(t), "jsonb refuses")
	require.NoError(t, r.h.Stop(context.Background()))
	assert.Equal(t, int64(11), r.h.Stats()[0].Kept)
	var jobs int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM river_job WHERE kind = 'hostile'").Scan(&jobs))
	assert.Equal(t, 11, jobs)
}

// With the database refusing connections and its sessions terminated, the
// keep's loss is counted every time and the drain returns before its
// deadline: the spill used to spend the whole bound stopping River, the
// step "abandoned" and lost 0.
func TestKeepWithTheDatabaseDownIsCountedInTime(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, Postgres)
	r.keepCountsInTime(t, 10, func() func() { return refuseConnections(t, url) })
}

// keepCountsInTime cuts n tasks short and drains them with the database
// broken by fail: the drain returns before its 3 s deadline counting all
// n lost, and once the database is mended, River winds down.
func (r *cutRig) keepCountsInTime(t *testing.T, n int, fail func() (heal func())) {
	for i := range n {
		require.NoError(t, r.kind.Go(context.Background(), hostile{Key: fmt.Sprint(i)}))
	}
	heal := fail()
	defer heal()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.Error(t, r.sched.Drain(ctx))
	assert.NoError(t, ctx.Err(), "the drain returned before its deadline")
	assert.Equal(t, fxasync.Losses{{Label: "hostile", Items: n}}, r.sched.LastDrain().Lost)
	assert.Zero(t, r.h.Stats()[0].Kept)
	assert.NotEmpty(t, r.keepLine(t))
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelStop()
	_ = r.h.Stop(stopCtx) // with the database down: its release fails, River stops later
	assert.NoError(t, stopCtx.Err(), "Stop returned before its deadline")
	heal()
	select {
	case <-r.h.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("River did not stop once the database was back")
	}
}

// A handler that panics is a failure like an error: an in-memory task is
// not kept at the stop, a fast path or a submission's commit leaves its
// job to River (Deferred), and nothing stays tracked.
func TestPanickingHandlerIsAFailure(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r := newRigWith(t, db, Config{}, func(context.Context, *sql.Tx, effect) error { panic("handler broke") }, false)
	for i := range 5 {
		require.NoError(t, r.kind.Go(context.Background(), effect{Key: fmt.Sprint("mem-", i)}))
		require.NoError(t, r.kind.Submit(context.Background(), effect{Key: fmt.Sprint("durable-", i)}))
		tx, err := db.Begin()
		require.NoError(t, err)
		j, err := r.kind.InsertTx(context.Background(), tx, effect{Key: fmt.Sprint("fast-", i)})
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		j.Run(context.Background())
	}
	require.Eventually(t, func() bool { return r.sched.Pending() == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(10), r.sched.Stats().Total.Panicked, "in-memory tasks and fast paths")
	st := r.h.Stats()[0]
	assert.Equal(t, int64(10), st.Deferred, "submissions and fast paths")
	assert.Zero(t, st.Direct)
	r.h.mu.Lock()
	assert.Empty(t, r.h.out, "fast paths settled")
	r.h.mu.Unlock()
	require.NoError(t, r.sched.Drain(context.Background()))
	assert.Empty(t, r.sched.LastDrain().Lost, "in-memory tasks settled: nothing to keep")
	require.NoError(t, r.h.Stop(context.Background()))
	assert.Zero(t, r.h.Stats()[0].Kept)
}

// A kind registered after Start refuses its submissions with the error;
// it used to run, and one cut task of it failed the whole spill.
func TestKindRegisteredAfterStartIsRefused(t *testing.T) {
	r := sqliteRig(t, Config{})
	late := Register(r.h, r.sched, writeHostile(SQLite))
	assert.ErrorContains(t, late.Go(context.Background(), hostile{Key: "x"}), "after Start")
	assert.ErrorContains(t, late.Submit(context.Background(), hostile{Key: "x"}), "after Start")
	tx, err := r.db.Begin()
	require.NoError(t, err)
	_, err = late.InsertTx(context.Background(), tx, hostile{Key: "x"})
	assert.ErrorContains(t, err, "after Start")
	require.NoError(t, tx.Rollback())
	assert.Zero(t, r.sched.Stats().Total.Submitted)
}

func TestHasEscapedNUL(t *testing.T) {
	for raw, want := range map[string]bool{
		`"a\u0000b"`: true, `"\\u0000"`: false, `"\\\u0000"`: true, `"u0000"`: false, `"\u00001"`: true, `"\`: false,
	} {
		assert.Equal(t, want, hasEscapedNUL([]byte(raw)), raw)
	}
}

// A River run holds its job at its attempt: once the job was rescued and
// is another attempt's, the old run's transaction fails its fence.
func TestFenceRefusesAStaleAttempt(t *testing.T) {
	r := sqliteRig(t, Config{})
	tx, err := r.db.Begin()
	require.NoError(t, err)
	job, err := r.kind.InsertTx(context.Background(), tx, effect{Key: "x"})
	require.NoError(t, err)
	require.NotNil(t, job)
	_, err = tx.Exec("UPDATE river_job SET state = 'running', attempt = 2")
	require.NoError(t, err)
	var id int64
	require.NoError(t, tx.QueryRow("SELECT id FROM river_job").Scan(&id))
	assert.NoError(t, r.h.fence(context.Background(), tx, id, 2))
	assert.ErrorIs(t, r.h.fence(context.Background(), tx, id, 1), errStaleAttempt)
	require.NoError(t, tx.Rollback())
}

// Jobs of a kind no longer registered wait for ever (River fetches known
// kinds only): Start says so, with the kinds and counts.
func TestStartWarnsOfJobsOfUnknownKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db := leaveHostileJobs(t, path, 3)

	logs := &syncWriter{}
	h := New(db, Config{Slog: slog.New(slog.NewTextHandler(logs, nil))})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	Register(h, s, writeEffect(SQLite)) // "hostile" is no longer registered
	require.NoError(t, h.Start(context.Background()))
	stopAtCleanup(t, s, h, db)
	assert.Contains(t, logs.String(), "jobs of kinds not registered here")
	assert.Contains(t, logs.String(), `jobs=3 kinds="hostile: 3"`)
}

// leaveHostileJobs leaves n leased jobs of the hostile kind in a SQLite
// file at path, as a process that registered that kind would, and returns
// the file opened again.
func leaveHostileJobs(t *testing.T, path string, n int) *sql.DB {
	db, err := openSQLite(path)
	require.NoError(t, err)
	old := newHostileRig(t, db, SQLite, nil)
	tx, err := db.Begin()
	require.NoError(t, err)
	for i := range n {
		_, err = old.kind.InsertTx(context.Background(), tx, hostile{Key: fmt.Sprint(i)}) // leased, never run
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	require.NoError(t, old.sched.Drain(context.Background()))
	require.NoError(t, old.h.Stop(context.Background()))
	return db
}

// syncWriter keeps what River's logging goroutines write.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SQLite refusing writes (its one connection made query-only) at the
// stop: the keep's 30 tasks are counted lost, and the drain returns before
// its deadline (the spill used to count 0 of 30).
func TestKeepWithSQLiteRefusingWritesIsCountedInTime(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, SQLite)
	r.keepCountsInTime(t, 30, func() func() {
		_, err := db.Exec("PRAGMA query_only = ON")
		require.NoError(t, err)
		return func() {
			_, err := db.Exec("PRAGMA query_only = OFF")
			require.NoError(t, err)
		}
	})
}

// A submission with an args whose MarshalJSON panics or fails is refused
// whole, before anything is kept; megabyte fields, invalid UTF-8 and NUL
// reach the handler's row as they are (SQLite). On Postgres, a NUL, which
// jsonb refuses, is refused at submission: it could not be kept as a job;
// invalid UTF-8, which its text refuses, fails the write in the commit,
// and the job, whose JSON holds U+FFFD instead, is River's to write.
func TestSubmitOfHostileArgs(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r := newHostileRig(t, db, SQLite, nil)
	stopAtCleanup(t, r.sched, r.h, db)
	err = r.kind.SubmitMany(context.Background(), []hostile{{Key: "good"}, {Key: "p", Panic: true}})
	assert.ErrorContains(t, err, "MarshalJSON panicked: MarshalJSON broke")
	assert.ErrorContains(t, r.kind.Submit(context.Background(), hostile{Key: "f", Fail: true}), "cannot encode")
	big := strings.Repeat("x", 1<<20)
	for _, key := range []string{big, "bad\xffutf8", "nul\x00byte"} {
		require.NoError(t, r.kind.Submit(context.Background(), hostile{Key: key}))
	}
	var n, size int
	require.NoError(t, db.QueryRow("SELECT COUNT(*), MAX(LENGTH(CAST(key AS BLOB))) FROM effects").Scan(&n, &size))
	assert.Equal(t, 3, n, "only the three good submissions")
	assert.Equal(t, 1<<20, size)
	assert.Equal(t, int64(3), r.h.Stats()[0].Direct)

	pg, err := openPostgres(postgresURL(t))
	require.NoError(t, err)
	rp := newHostileRig(t, pg, Postgres, nil)
	stopAtCleanup(t, rp.sched, rp.h, pg)
	assert.ErrorContains(t, rp.kind.Submit(context.Background(), hostile{Key: "nul\x00byte"}), "jsonb refuses")
	require.NoError(t, rp.kind.Submit(context.Background(), hostile{Key: "bad\xffutf8"}))
	require.Eventually(t, func() bool { rows, _ := effects(t, pg); return rows == 1 }, 30*time.Second, 10*time.Millisecond)
	var key string
	require.NoError(t, pg.QueryRow("SELECT key FROM effects").Scan(&key))
	assert.Equal(t, "bad\ufffdutf8", key)
	st := rp.h.Stats()[0]
	assert.Equal(t, int64(1), st.Deferred)
	assert.Equal(t, int64(1), st.ByQueue)
}

// With the database refusing connections, a submission fails with the
// error (it is not answered) within its caller's bound, and the
// committers carry on once the database is back.
func TestSubmitDuringAnOutageFailsAndRecovers(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	r := newRig(t, db, Config{Dialect: Postgres})
	require.NoError(t, r.kind.Submit(context.Background(), effect{Key: "before"}))
	restore := refuseConnections(t, url)
	defer restore()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := 0
	for i := range 20 {
		if r.kind.Submit(ctx, effect{Key: fmt.Sprint("during-", i)}) != nil {
			failed++
		}
	}
	assert.Equal(t, 20, failed, "answered while the database refused connections")
	restore()
	require.Eventually(t, func() bool { return r.kind.Submit(context.Background(), effect{Key: "after"}) == nil },
		30*time.Second, 100*time.Millisecond)
	keys := effectKeys(t, db, "id")
	assert.Equal(t, "before", keys[0])
	assert.Equal(t, "after", keys[len(keys)-1])
	assert.Len(t, keys, 2, "a failed submission was written: %v", keys)
}
