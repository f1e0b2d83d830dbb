package fxasyncriver

// This file holds the tests of group commit and of the batched fast path.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Concurrent submissions share transactions, and every one answered is
// written exactly once: in its commit, or (a kind with Before work) by the
// fast path that claims the group's jobs.
func TestGroupCommitWritesEveryAnsweredTaskOnce(t *testing.T) {
	for _, dialect := range []Dialect{SQLite, Postgres} {
		for _, leased := range []bool{false, true} {
			t.Run(fmt.Sprintf("dialect=%d/leased=%t", dialect, leased), func(t *testing.T) {
				db := testDB(t, dialect)
				r := newRigWith(t, db, Config{Dialect: dialect}, writeEffect(dialect), leased)
				const clients, each = 32, 50
				var wg sync.WaitGroup
				for c := range clients {
					wg.Go(func() {
						for i := range each {
							assert.NoError(t, r.kind.Submit(context.Background(), effect{Key: fmt.Sprint(c, "-", i)}))
						}
					})
				}
				wg.Wait()
				r.settle(t)
				rows, distinct := effects(t, db)
				assert.Equal(t, clients*each, rows)
				assert.Equal(t, clients*each, distinct)
				st := r.h.Stats()[0]
				if leased {
					assert.Equal(t, int64(clients*each), st.Inserted)
					assert.Equal(t, int64(clients*each), st.Fast)
				} else {
					assert.Equal(t, int64(clients*each), st.Direct)
				}
				groups := r.h.groups()
				assert.Less(t, groups, int64(clients*each), "no two submissions shared a transaction")
				t.Logf("%d tasks in %d transactions", clients*each, groups)
			})
		}
	}
}

// testDB is a new database of the dialect with the effects table.
func testDB(t testing.TB, d Dialect) *sql.DB {
	if d == Postgres {
		db, err := openPostgres(postgresURL(t))
		require.NoError(t, err)
		return db
	}
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	return db
}

// blockingRig is a rig on SQLite whose handler, for the key "block", waits
// until release is closed; entered is closed when it starts waiting.
func blockingRig(t *testing.T, cfg Config) (r *rig, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	write := writeEffect(SQLite)
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r = newRigWith(t, db, cfg, func(ctx context.Context, tx *sql.Tx, e effect) error {
		if e.Key == "block" {
			close(entered)
			<-release
		}
		return write(ctx, tx, e)
	}, false)
	return r, entered, release
}

// groups is how many group commits the rig's HandOff made since Start.
func (h *HandOff) groups() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.commits == nil {
		return 0
	}
	return h.commits.groups.Load()
}

// queued is how many submissions wait for a committer.
func (r *rig) queued() int {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return len(r.h.commits.queue)
}

// A full queue refuses a submission at once, with fxasync.ErrFull, and
// counts it; those it held are written.
func TestFullCommitQueueRefuses(t *testing.T) {
	r, entered, release := blockingRig(t, Config{CommitQueue: 1})
	answered := make(chan error, 2)
	go func() { answered <- r.kind.Submit(context.Background(), effect{Key: "block"}) }()
	<-entered
	go func() { answered <- r.kind.Submit(context.Background(), effect{Key: "queued"}) }()
	require.Eventually(t, func() bool { return r.queued() == 1 }, 10*time.Second, time.Millisecond)

	err := r.kind.Submit(context.Background(), effect{Key: "refused"})
	require.ErrorIs(t, err, fxasync.ErrFull)
	close(release)
	require.NoError(t, <-answered)
	require.NoError(t, <-answered)
	r.settle(t)
	rows, _ := effects(t, r.db)
	assert.Equal(t, 2, rows)
	st := r.h.Stats()[0]
	assert.Equal(t, int64(1), st.Refused)
	assert.Equal(t, int64(2), st.Direct)
}

// A caller that gave up before its commit began returns its context's
// error, and its task is not kept.
func TestSubmissionWhoseCallerGaveUpIsNotKept(t *testing.T) {
	r, entered, release := blockingRig(t, Config{})
	first := make(chan error, 1)
	go func() { first <- r.kind.Submit(context.Background(), effect{Key: "block"}) }()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- r.kind.Submit(ctx, effect{Key: "gave-up"}) }()
	require.Eventually(t, func() bool { return r.queued() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-gaveUp, context.Canceled)
	close(release)
	require.NoError(t, <-first)
	r.settle(t)
	var n int
	require.NoError(t, r.db.QueryRow("SELECT COUNT(*) FROM effects WHERE key = 'gave-up'").Scan(&n))
	assert.Zero(t, n)
	assert.Equal(t, int64(1), r.h.Stats()[0].Direct)
}

// A handler that fails in the commit hands the whole group to River, as
// jobs runnable at once, in that same transaction: each is then written
// once by River's worker, the failing one after its retry.
func TestFailedWriteInTheCommitIsHandedToRiver(t *testing.T) {
	st := submitWithABadTask(t, false, 1)
	assert.Equal(t, KindStats{Kind: "effect", Inserted: 3, Deferred: 3, ByQueue: 3}, st)
}

// submitWithABadTask submits three tasks in one SubmitMany, the second of
// which fails its first failures writes; it waits until all three are
// written once, and returns the kind's figures. With leased, the kind has
// Before work.
func submitWithABadTask(t *testing.T, leased bool, failures int64) KindStats {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	write := writeEffect(SQLite)
	var calls atomic.Int64
	r := newRigWith(t, db, Config{Lease: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond},
		func(ctx context.Context, tx *sql.Tx, e effect) error {
			if e.Key == "bad" && calls.Add(1) <= failures {
				return errors.New("bad row")
			}
			return write(ctx, tx, e)
		}, leased)
	require.NoError(t, r.kind.SubmitMany(context.Background(), []effect{{Key: "a"}, {Key: "bad"}, {Key: "c"}}))
	r.settle(t)
	rows, distinct := effects(t, db)
	assert.Equal(t, 3, rows)
	assert.Equal(t, 3, distinct)
	return r.h.Stats()[0]
}

// A fast path of several jobs claims only those River never tried, and
// writes only theirs.
func TestFastPathBatchClaimsOnlyWaitingJobs(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r := newRigWith(t, db, Config{}, writeEffect(SQLite), true)
	var jobs []fastJob[effect]
	tx, err := db.Begin()
	require.NoError(t, err)
	for i := range 3 {
		_, err := r.kind.InsertTx(context.Background(), tx, effect{Key: strconv.Itoa(i)})
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	rows, err := db.Query("SELECT id, json(args) FROM river_job ORDER BY id")
	require.NoError(t, err)
	for rows.Next() {
		var j fastJob[effect]
		require.NoError(t, rows.Scan(&j.id, &j.raw))
		jobs = append(jobs, j)
	}
	require.NoError(t, rows.Err())
	require.Len(t, jobs, 3)
	// River took the second: it is running at its first attempt.
	_, err = db.Exec("UPDATE river_job SET state = 'running', attempt = 1 WHERE id = ?", jobs[1].id)
	require.NoError(t, err)

	r.kind.runFast(context.Background(), jobs)
	require.Eventually(t, func() bool { return r.sched.Pending() == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, []string{"0", "2"}, effectKeys(t, db, "key"))
	st := r.h.Stats()[0]
	assert.Equal(t, int64(2), st.Fast)
	assert.Equal(t, int64(1), st.ClaimsLost)
}

// One task whose handler fails does not hold back the others of its fast
// path: they are written one by one, it is left to River's retry.
func TestFastPathBatchIsolatesAFailingTask(t *testing.T) {
	st := submitWithABadTask(t, true, 2) // the batch's try and its own
	assert.Equal(t, KindStats{Kind: "effect", Inserted: 3, Fast: 2, Deferred: 1, ByQueue: 1}, st)
}

// Submissions racing the stop are either answered and written, or refused
// with an error: none answered is lost.
func TestStopLosesNoAnsweredSubmission(t *testing.T) {
	for _, leased := range []bool{false, true} {
		t.Run(fmt.Sprint("leased=", leased), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			db, err := openSQLite(path)
			require.NoError(t, err)
			r := newRigWith(t, db, Config{}, writeEffect(SQLite), leased)
			var answered atomic.Int64
			var wg sync.WaitGroup
			for c := range 8 {
				wg.Go(func() {
					for i := 0; ; i++ {
						if err := r.kind.Submit(context.Background(), effect{Key: fmt.Sprint(c, "-", i)}); err != nil {
							return
						}
						answered.Add(1)
					}
				})
			}
			require.Eventually(t, func() bool { return answered.Load() > 200 }, 10*time.Second, time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, r.sched.Drain(ctx))
			require.NoError(t, r.h.Stop(ctx))
			wg.Wait()

			// The restart: River writes what the stop left as jobs.
			db2, err := openSQLite(path)
			require.NoError(t, err)
			newRig(t, db2, Config{})
			require.Eventually(t, func() bool { return unfinished(t, db2) == 0 }, 30*time.Second, 10*time.Millisecond)
			rows, distinct := effects(t, db2)
			assert.Equal(t, answered.Load(), int64(rows), "answered and written differ")
			assert.Equal(t, rows, distinct, "a task written twice")
			t.Logf("answered %d, written %d", answered.Load(), rows)
		})
	}
}

// A handler that ignores its context does not hold up Stop: Stop returns
// within its bound, and the submission it held fails.
func TestStopIsBoundedByAHandlerThatIgnoresItsContext(t *testing.T) {
	r, entered, release := blockingRig(t, Config{})
	answered := make(chan error, 1)
	go func() { answered <- r.kind.Submit(context.Background(), effect{Key: "block"}) }()
	<-entered
	require.NoError(t, r.sched.Drain(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- r.h.Stop(ctx) }()
	select {
	case err := <-stopped:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Stop waited for the handler")
	}
	close(release)
	assert.Error(t, <-answered, "its transaction was cancelled: not answered")
}

// A SubmitMany larger than a commit's group is one commit, and its jobs
// are claimed in fast paths of at most maxGroup each.
func TestLargeSubmitManyIsClaimedInChunks(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "app.db"))
	require.NoError(t, err)
	r := newRigWith(t, db, Config{}, writeEffect(SQLite), true)
	args := make([]effect, 2*maxGroup+500)
	for i := range args {
		args[i] = effect{Key: strconv.Itoa(i)}
	}
	require.NoError(t, r.kind.SubmitMany(context.Background(), args))
	r.settle(t)
	rows, distinct := effects(t, db)
	assert.Equal(t, len(args), rows)
	assert.Equal(t, len(args), distinct)
	assert.Equal(t, int64(len(args)), r.h.Stats()[0].Fast)
	assert.Equal(t, int64(1), r.h.groups())
	assert.Equal(t, int64(3), r.sched.Stats().Total.Submitted, "fast paths of 1,000, 1,000 and 500")
}
