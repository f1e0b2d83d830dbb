package fxasyncriver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// The drain's bound cuts short 50 in-memory tasks and a batcher's 30 items
// (their writes wait for the bound): the drain hands all 80 to River, its
// Keeper, and counts them kept, none lost; a restart on the same file
// writes each once.
func TestDrainKeepsWhatItCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := openSQLite(path)
	require.NoError(t, err)
	h := New(db, Config{})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 100 * time.Millisecond, Keeper: h})
	untilCut := func(ctx context.Context, _ effect) error { <-ctx.Done(); return ctx.Err() }
	k := Register(h, s, writeEffect(SQLite)).Before(untilCut)
	b := fxasync.NewBatcher(s, "effects", func(ctx context.Context, es []effect) error { return untilCut(ctx, es[0]) },
		fxasync.BatcherConfig{MaxBatch: 10, Keep: true})
	require.NoError(t, h.Start(context.Background()))
	for i := range 50 {
		require.NoError(t, k.Go(context.Background(), effect{Key: fmt.Sprint("task-", i)}))
	}
	for i := range 30 {
		require.NoError(t, b.Add(context.Background(), effect{Key: fmt.Sprint("item-", i)}))
	}
	require.Error(t, s.Drain(context.Background()), "the bound cut the drain short")
	assert.Equal(t, fxasync.Losses{{Label: "effect", Kept: 50}, {Label: "effects", Kept: 30}}, s.LastDrain().Lost,
		"cut short, kept, not lost")
	assert.Equal(t, int64(50), s.Stats().Labels[0].HandedOff)
	require.NoError(t, h.Stop(context.Background()))
	assert.Equal(t, int64(80), h.Stats()[0].Kept)
	assert.Zero(t, h.Stats()[0].Memory)
	rows, _ := effects(t, db)
	assert.Zero(t, rows)
	require.NoError(t, db.Close())

	db, err = openSQLite(path)
	require.NoError(t, err)
	r := newRig(t, db, Config{}) // the restart: River runs what was spilled
	r.settle(t)
	rows, distinct := effects(t, db)
	assert.Equal(t, 80, rows)
	assert.Equal(t, 80, distinct)
	assert.Equal(t, int64(80), r.h.Stats()[0].ByQueue)
}

// In-memory tasks that finish are written once and keep nothing; a
// handler's error is the scheduler's failure, not a hand-off.
func TestInMemoryTasksWriteOnce(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	write := writeEffect(SQLite)
	r := newRigWith(t, db, Config{}, func(ctx context.Context, tx *sql.Tx, e effect) error {
		if e.Key == "bad" {
			return errors.New("bad row")
		}
		return write(ctx, tx, e)
	}, false)
	for i := range 100 {
		require.NoError(t, r.kind.Go(context.Background(), effect{Key: fmt.Sprint(i)}))
	}
	require.NoError(t, r.kind.Go(context.Background(), effect{Key: "bad"}))
	r.settle(t)
	rows, distinct := effects(t, r.db)
	assert.Equal(t, 100, rows)
	assert.Equal(t, 100, distinct)
	st := r.h.Stats()[0]
	assert.Equal(t, int64(100), st.Memory)
	assert.Zero(t, st.Kept)
	assert.Equal(t, int64(1), r.sched.Stats().Labels[0].Failed, "the failure is the scheduler's")
	require.NoError(t, r.sched.Drain(context.Background()))
	assert.Empty(t, r.sched.LastDrain().Lost, "nothing left to keep")
}

// An in-memory task retrying when the drain begins, whose retries its
// bound cuts short, becomes a job scheduled at its next attempt, with
// River's attempts reduced by those it made.
func TestDrainKeepsARetryWithItsSchedule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := openSQLite(path)
	require.NoError(t, err)
	defer db.Close()
	h := New(db, Config{})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 50 * time.Millisecond, Keeper: h,
		LabelRetries: map[string]fxasync.Retry{"effect": {MaxAttempts: fxasync.Unbounded, MinBackoff: time.Hour,
			MaxBackoff: time.Hour, MaxElapsed: fxasync.Unbounded}}})
	down := func(context.Context, effect) error { return errors.New("connection refused") }
	k := Register(h, s, writeEffect(SQLite)).Before(down)
	require.NoError(t, h.Start(context.Background()))
	before := time.Now()
	require.NoError(t, k.Go(context.Background(), effect{Key: "retrying"}))
	require.Eventually(t, func() bool { return s.Stats().Labels[0].Retries == 1 }, 5*time.Second, time.Millisecond)
	_ = s.Drain(context.Background())
	assert.Equal(t, fxasync.Losses{{Label: "effect", Kept: 1}}, s.LastDrain().Lost)
	require.NoError(t, h.Stop(context.Background()))
	var maxAttempts int
	var scheduled string
	require.NoError(t, db.QueryRow("SELECT max_attempts, scheduled_at FROM river_job").Scan(&maxAttempts, &scheduled))
	at, err := time.Parse(time.RFC3339Nano, scheduled)
	if err != nil { // SQLite's format is River's
		at, err = time.Parse("2006-01-02 15:04:05.999999999", scheduled)
	}
	require.NoError(t, err, scheduled)
	assert.Contains(t, []int{23, 24}, maxAttempts, "25 less the one or two attempts made")
	assert.True(t, at.After(before), "scheduled at the next attempt, not at once: %v", at)
}
