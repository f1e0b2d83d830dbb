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
// drain's bound (100 ms), so that Stop spills them.
type cutRig struct {
	db    *sql.DB
	sched *fxasync.Scheduler
	h     *HandOff
	kind  *Kind[hostile]
}

func newCutRig(t *testing.T, db *sql.DB, d Dialect) *cutRig {
	return newHostileRig(t, db, d, untilCut)
}

// newHostileRig starts a hand-off of the hostile kind, with before as the
// kind's Before work when not nil.
func newHostileRig(t *testing.T, db *sql.DB, d Dialect, before func(context.Context, hostile) error) *cutRig {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 100 * time.Millisecond})
	h := New(db, s, Config{Dialect: d})
	k := Register(h, writeHostile(d))
	if before != nil {
		k.Before(before)
	}
	require.NoError(t, h.Start(context.Background()))
	return &cutRig{db: db, sched: s, h: h, kind: k}
}

// cutShort submits tasks as they are and n good ones (keys "0", "1", …),
// then drains: every one waits for the drain's bound, which cuts it short.
func (r *cutRig) cutShort(t *testing.T, n int, tasks ...hostile) {
	for i := range n {
		tasks = append(tasks, hostile{Key: fmt.Sprint(i)})
	}
	for _, task := range tasks {
		require.NoError(t, r.kind.Go(context.Background(), task))
	}
	require.Error(t, r.sched.Drain(context.Background()))
}

// One task whose MarshalJSON panics and one whose MarshalJSON fails cost
// themselves: the ten good ones are handed off, the two counted lost in a
// *SpillError, and River is stopped. The panic used to make Stop panic
// mid-spill: every task gone, counted 0, River left running.
func TestSpillSurvivesHostileMarshalJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := openSQLite(path)
	require.NoError(t, err)
	r := newCutRig(t, db, SQLite)
	r.cutShort(t, 10, hostile{Key: "p", Panic: true}, hostile{Key: "f", Fail: true})
	var stopErr error
	require.NotPanics(t, func() { stopErr = r.h.Stop(context.Background()) })
	var se *SpillError
	require.ErrorAs(t, stopErr, &se)
	assert.Equal(t, 2, se.LostTotal())
	assert.Contains(t, se.Error(), "MarshalJSON panicked: MarshalJSON broke")
	assert.Equal(t, int64(10), r.h.Stats()[0].Spilled)
	assert.Nil(t, r.h.started(), "River was stopped")
	require.NoError(t, db.Close())

	db, err = openSQLite(path)
	require.NoError(t, err)
	rr := newHostileRig(t, db, SQLite, nil) // the restart: River runs what was spilled
	require.Eventually(t, func() bool { rows, _ := effects(t, db); return rows == 10 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, rr.sched.Drain(context.Background()))
	require.NoError(t, rr.h.Stop(context.Background()))
	rows, distinct := effects(t, db)
	assert.Equal(t, 10, distinct)
	assert.Equal(t, 10, rows)
	require.NoError(t, db.Close())
}

// On Postgres, one task holding a NUL (jsonb refuses \u0000) is counted
// lost and the good ones are handed off: it used to fail the whole spill,
// 0 of 10 good tasks handed off.
func TestSpillOnPostgresSkipsWhatJSONBRefuses(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, Postgres)
	r.cutShort(t, 10, hostile{Key: "nul\x00byte"}, hostile{Key: `a literal \u0000 is fine`})
	var se *SpillError
	require.ErrorAs(t, r.h.Stop(context.Background()), &se)
	assert.Equal(t, 1, se.LostTotal())
	assert.Equal(t, int64(11), r.h.Stats()[0].Spilled)
	var jobs int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM river_job WHERE kind = 'hostile'").Scan(&jobs))
	assert.Equal(t, 11, jobs)
}

// With the database refusing connections and its sessions terminated, a
// spill's loss is counted every time and Stop returns before its deadline:
// it used to spend the whole bound stopping River, the step "abandoned"
// and lost 0.
func TestSpillWithTheDatabaseDownIsCountedInTime(t *testing.T) {
	url := postgresURL(t)
	db, err := openPostgres(url)
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, Postgres)
	r.cutShort(t, 10)
	restore := refuseConnections(t, url)
	defer restore()
	r.stopCountsInTime(t, 10, restore)
}

// stopCountsInTime stops the hand-off with the database failing: Stop
// returns before its 3 s deadline with a *SpillError counting lost, and
// once heal has mended the database, River winds down.
func (r *cutRig) stopCountsInTime(t *testing.T, lost int, heal func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stopErr := r.h.Stop(ctx)
	assert.NoError(t, ctx.Err(), "Stop returned before its deadline")
	var se *SpillError
	require.ErrorAs(t, stopErr, &se)
	assert.Equal(t, lost, se.LostTotal())
	assert.Zero(t, r.h.Stats()[0].Spilled)
	heal()
	select {
	case <-r.h.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("River did not stop once the database was back")
	}
}

// A handler that panics is a failure like an error: an in-memory task is
// not spilled at the stop, a fast path is left to River (Deferred), and
// neither stays tracked.
func TestPanickingHandlerIsAFailure(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r := newRigWith(t, db, Config{}, func(context.Context, *sql.Tx, effect) error { panic("handler broke") })
	for i := range 5 {
		require.NoError(t, r.kind.Go(context.Background(), effect{Key: fmt.Sprint("mem-", i)}))
	}
	for i := range 5 {
		require.NoError(t, r.kind.Submit(context.Background(), effect{Key: fmt.Sprint("durable-", i)}))
	}
	require.Eventually(t, func() bool { return r.sched.Pending() == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(10), r.sched.Stats().Total.Panicked)
	st := r.h.Stats()[0]
	assert.Equal(t, int64(5), st.Deferred)
	r.h.mu.Lock()
	assert.Empty(t, r.h.live, "in-memory tasks settled")
	assert.Empty(t, r.h.out, "fast paths settled")
	r.h.mu.Unlock()
	require.NoError(t, r.sched.Drain(context.Background()))
	require.NoError(t, r.h.Stop(context.Background()))
	assert.Zero(t, r.h.Stats()[0].Spilled)
}

// A kind registered after Start refuses its submissions with the error;
// it used to run, and one cut task of it failed the whole spill.
func TestKindRegisteredAfterStartIsRefused(t *testing.T) {
	r := sqliteRig(t, Config{})
	late := Register(r.h, writeHostile(SQLite))
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
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	h := New(db, s, Config{Slog: slog.New(slog.NewTextHandler(logs, nil))})
	Register(h, writeEffect(SQLite)) // "hostile" is no longer registered
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
// stop: the spill's 30 tasks are counted lost, and Stop returns before its
// deadline (it used to count 0 of 30).
func TestSpillWithSQLiteRefusingWritesIsCountedInTime(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	defer db.Close()
	r := newCutRig(t, db, SQLite)
	r.cutShort(t, 30)
	_, err = db.Exec("PRAGMA query_only = ON")
	require.NoError(t, err)
	r.stopCountsInTime(t, 30, func() {
		_, err := db.Exec("PRAGMA query_only = OFF")
		require.NoError(t, err)
	})
}
