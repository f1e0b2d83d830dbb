package fxasyncriver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// rig is a scheduler and a started hand-off with the effect kind on db.
type rig struct {
	db    *sql.DB
	sched *fxasync.Scheduler
	h     *HandOff
	kind  *Kind[effect]
}

// newRig starts a hand-off on db with the effect kind; the test's cleanup
// drains the scheduler, stops the hand-off and closes db, in that order.
func newRig(t testing.TB, db *sql.DB, cfg Config) *rig {
	return newRigWith(t, db, cfg, writeEffect(cfg.Dialect), false)
}

// newRigWith is newRig with the effect kind's handler; with leased, the
// kind has Before work (none), so that its submissions are jobs for the
// fast path rather than written in their commit.
func newRigWith(t testing.TB, db *sql.DB, cfg Config, handle Handler[effect], leased bool) *rig {
	return newRigOf(t, db, cfg, func(h *HandOff, s *fxasync.Scheduler) *Kind[effect] { return Register(h, s, handle) }, leased)
}

// newRigOf is newRigWith with the effect kind registered by register.
func newRigOf(t testing.TB, db *sql.DB, cfg Config, register func(*HandOff, *fxasync.Scheduler) *Kind[effect], leased bool) *rig {
	h := New(db, cfg)
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	r := &rig{db: db, sched: s, h: h, kind: register(h, s)}
	if leased {
		r.kind.Before(func(context.Context, effect) error { return nil })
	}
	require.NoError(t, h.Start(context.Background()))
	stopAtCleanup(t, s, h, db)
	return r
}

// stopAtCleanup drains s, stops h and closes db when the test ends.
func stopAtCleanup(t testing.TB, s *fxasync.Scheduler, h *HandOff, db *sql.DB) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Drain(ctx))
		assert.NoError(t, h.Stop(ctx))
		assert.NoError(t, db.Close())
	})
}

func sqliteRig(t *testing.T, cfg Config) *rig {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	return newRig(t, db, cfg)
}

// settle waits until every job is finished and the scheduler is idle.
func (r *rig) settle(t *testing.T) {
	require.Eventually(t, func() bool { return r.sched.Pending() == 0 && unfinished(t, r.db) == 0 },
		30*time.Second, 10*time.Millisecond)
}

// A kind without Before work is written in its submission's commit; one
// with it is a job there, claimed and written by the fast path.
func TestSubmitWritesEachTaskOnce(t *testing.T) {
	for _, leased := range []bool{false, true} {
		t.Run(fmt.Sprint("leased=", leased), func(t *testing.T) {
			db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
			require.NoError(t, err)
			r := newRigWith(t, db, Config{}, writeEffect(SQLite), leased)
			for i := range 200 {
				require.NoError(t, r.kind.Submit(context.Background(), effect{Key: fmt.Sprint(i)}))
			}
			r.settle(t)
			rows, distinct := effects(t, r.db)
			assert.Equal(t, 200, rows)
			assert.Equal(t, 200, distinct)
			want := KindStats{Kind: "effect", Direct: 200}
			if leased {
				want = KindStats{Kind: "effect", Inserted: 200, Fast: 200}
			}
			assert.Equal(t, want, r.h.Stats()[0])
		})
	}
}

// A job inserted in a transaction that rolls back never runs: Run finds
// no job, and River has none.
func TestRolledBackInsertRunsNothing(t *testing.T) {
	r := sqliteRig(t, Config{Lease: time.Millisecond})
	tx, err := r.db.Begin()
	require.NoError(t, err)
	j, err := r.kind.InsertTx(context.Background(), tx, effect{Key: "never"})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	j.Run(context.Background())
	r.settle(t)
	rows, _ := effects(t, r.db)
	assert.Zero(t, rows)
	assert.Equal(t, int64(1), r.h.Stats()[0].ClaimsLost)
}

// A claim that comes after River completed the job deletes a completed
// row, which must not count as a claim: the effect is written once.
func TestClaimAfterRiverCompletedDoesNotWriteTwice(t *testing.T) {
	r := sqliteRig(t, Config{})
	tx, err := r.db.Begin()
	require.NoError(t, err)
	j, err := r.kind.InsertTx(context.Background(), tx, effect{Key: "once"})
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	r.runNowByRiver(t)
	require.Eventually(t, func() bool { return r.h.Stats()[0].ByQueue == 1 }, 30*time.Second, 10*time.Millisecond)
	j.Run(context.Background()) // late: River completed it
	r.settle(t)
	rows, _ := effects(t, r.db)
	assert.Equal(t, 1, rows)
	st := r.h.Stats()[0]
	assert.Equal(t, int64(1), st.ClaimsLost)
	assert.Zero(t, st.Fast)
}

// runNowByRiver makes every leased job runnable by River's workers at once.
func (r *rig) runNowByRiver(t *testing.T) {
	require.NoError(t, r.h.retryLeased(context.Background(), r.h.started(), []string{effect{}.Kind()}))
}

// The fast path and River's workers race for the same jobs, 1,000 of them
// in rounds of 100: each effect is written exactly once.
func TestClaimRacingRiverWritesOnce(t *testing.T) {
	r := sqliteRig(t, Config{MaxWorkers: 20, PollInterval: 2 * time.Millisecond})
	raceRounds(t, []*rig{r}, 10, 100)
}

// raceRounds inserts n jobs per round through the rigs in turn, makes them
// runnable by River and runs their fast paths, each after a random delay of
// up to 10 ms (River polls every few ms), so that both win some: then
// checks that every key is written exactly once, by one of them.
func raceRounds(t *testing.T, rigs []*rig, rounds, n int) {
	for round := range rounds {
		var jobs []*Job
		for i := range n {
			r := rigs[i%len(rigs)]
			tx, err := r.db.Begin()
			require.NoError(t, err)
			j, err := r.kind.InsertTx(context.Background(), tx, effect{Key: fmt.Sprintf("%d-%d", round, i)})
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
			jobs = append(jobs, j)
		}
		rigs[round%len(rigs)].runNowByRiver(t) // first: it waits for a connection like any claim
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Go(func() {
				time.Sleep(rand.N(10 * time.Millisecond))
				j.Run(context.Background())
			})
		}
		wg.Wait()
		for _, r := range rigs {
			r.settle(t)
		}
	}
	rows, distinct := effects(t, rigs[0].db)
	assert.Equal(t, rounds*n, rows, "rows")
	assert.Equal(t, rounds*n, distinct, "distinct keys")
	var fast, byRiver, lost, deferred int64
	for _, r := range rigs {
		st := r.h.Stats()[0]
		fast, byRiver, lost, deferred = fast+st.Fast, byRiver+st.ByQueue, lost+st.ClaimsLost, deferred+st.Deferred
	}
	assert.Equal(t, int64(rounds*n), fast+byRiver, "written by the fast path or River")
	assert.Positive(t, lost, "River won no race: the test raced nothing")
	t.Logf("%d jobs: fast path %d, River %d, claims lost to River %d, deferred %d", rounds*n, fast, byRiver, lost, deferred)
}

// A fast path whose handler fails leaves the job to River's retry after the
// lease, untracked: a failing handler cannot grow what Stop must release.
// River's run writes the effect once.
func TestFailedFastPathIsRetriedByRiver(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	var calls atomic.Int64
	write := writeEffect(SQLite)
	r := newRigWith(t, db, Config{Lease: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond},
		func(ctx context.Context, tx *sql.Tx, e effect) error {
			if calls.Add(1) == 1 {
				return errors.New("first attempt fails")
			}
			return write(ctx, tx, e)
		}, true)
	require.NoError(t, r.kind.Submit(context.Background(), effect{Key: "retried"}))
	r.settle(t)
	rows, _ := effects(t, db)
	assert.Equal(t, 1, rows)
	st := r.h.Stats()[0]
	assert.Equal(t, int64(1), st.Deferred)
	assert.Equal(t, int64(1), st.ByQueue)
	r.h.mu.Lock()
	assert.Empty(t, r.h.out, "not tracked")
	r.h.mu.Unlock()
}

// River runs for as long as the hand-off does, not as long as the context
// Start was given. fx's OnStart context ends at the start timeout (15 s by
// default); River, started with it, stopped then, and every job that needed
// River afterwards waited for ever (the example's Postgres SIGKILL test
// caught it when its 300 jobs took longer than 15 s).
func TestRiverOutlivesTheStartContext(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	h := New(db, Config{Lease: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	kind := Register(h, s, writeEffect(SQLite))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, h.Start(ctx))
	cancel() // as fx's start timeout does, once start is over
	stopAtCleanup(t, s, h, db)
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = kind.InsertTx(context.Background(), tx, effect{Key: "by-river"}) // no Run: River's job
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	require.Eventually(t, func() bool { rows, _ := effects(t, db); return rows == 1 }, 10*time.Second, 10*time.Millisecond)
}
