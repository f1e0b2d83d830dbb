package fxasyncriver

// This file holds kinds: a task type, its one handler, and how a durable
// task is submitted.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// JobArgs is a kind's args type: encoded as JSON in River's job row, and
// naming its kind, as River's own job args do.
type JobArgs = river.JobArgs

// Handler writes a task's effect inside tx, which the hand-off commits
// with the job's claim or completion. It must not commit or roll back tx.
type Handler[T JobArgs] func(ctx context.Context, tx *sql.Tx, args T) error

// BatchHandler writes the effects of several tasks of a kind inside tx
// (one multi-row INSERT, say), which the hand-off commits with their jobs'
// claims or completions; args holds at least one task. It must not commit
// or roll back tx. Its error fails every task in args.
type BatchHandler[T JobArgs] func(ctx context.Context, tx *sql.Tx, args []T) error

// Kind is a registered task kind.
type Kind[T JobArgs] struct {
	h      *HandOff
	s      *fxasync.Scheduler // runs its fast paths and in-memory tasks
	mem    *fxasync.Kind[T]   // its in-memory tasks, kept by the scheduler's Keeper
	name   string
	handle BatchHandler[T]
	before func(ctx context.Context, args T) error
	stats  *kindStats
	err    error // the registration's error: every submission returns it
}

// Register registers the kind T.Kind() with its handler, which serves the
// fast path, in-memory tasks and River's worker alike; s runs the fast
// paths and in-memory tasks (make it with this HandOff as its Keeper, as
// Module does). Register before Start; a kind registered twice, or after
// Start, makes Start return the error, and every submission of the kind
// returned (Go, InsertTx, Submit) too. The fast path of jobs committed
// together calls the handler for each in one transaction.
func Register[T JobArgs](h *HandOff, s *fxasync.Scheduler, handle Handler[T]) *Kind[T] {
	return RegisterBatch(h, s, func(ctx context.Context, tx *sql.Tx, args []T) error {
		for _, a := range args {
			if err := handle(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// RegisterBatch is Register with a handler of many tasks at once: the
// fast path of jobs committed together passes it all of them that it
// claimed; in-memory tasks and River's worker pass one.
func RegisterBatch[T JobArgs](h *HandOff, s *fxasync.Scheduler, handle BatchHandler[T]) *Kind[T] {
	var zero T
	k := &Kind[T]{h: h, s: s, name: zero.Kind(), handle: handle, stats: &kindStats{}}
	k.mem = fxasync.NewKind(s, k.name, k.runMemory)
	err := h.register(k.name, k.stats, k)
	if err == nil {
		err = river.AddWorkerSafely[T](h.workers, &worker[T]{k: k})
	}
	if err != nil {
		k.err = fmt.Errorf("fxasyncriver: register %q: %w", k.name, err)
		if h.err == nil {
			h.err = k.err
		}
	}
	return k
}

func (h *HandOff) register(name string, st *kindStats, fast submitter) error {
	if h.started() != nil {
		return fmt.Errorf("after Start")
	}
	if _, dup := h.kinds[name]; dup {
		return fmt.Errorf("registered twice")
	}
	h.kinds[name] = st
	h.fast[name] = fast
	return nil
}

// Before sets work that runs for each task before its transaction, in the
// fast path and in River's worker alike: a call to another service, or a
// wait, that must not hold a database connection meanwhile (with SQLite,
// the only one). A fast path of several jobs runs theirs at once; a task
// whose Before fails is left out of the transaction, to River's retry. It
// can run more than once for one task, like any effect outside the
// database. Set it before Start; it returns k.
func (k *Kind[T]) Before(f func(ctx context.Context, args T) error) *Kind[T] {
	k.before = f
	return k
}

// prepare runs the Before work, if any.
func (k *Kind[T]) prepare(ctx context.Context, args T) error {
	if k.before == nil {
		return nil
	}
	return k.before(ctx, args)
}

// A Job is a durable task inserted and not yet started.
type Job struct {
	run func(ctx context.Context)
}

// Run starts the task at once on the scheduler, after the transaction that
// inserted it has committed; ctx gives it its values. Without Run, or when
// the scheduler refuses the task, River runs it when its lease ends. Run
// after a rollback does nothing: the claim finds no job.
func (j *Job) Run(ctx context.Context) { j.run(ctx) }

// InsertTx inserts a durable task in the caller's transaction, leased for
// Config.Lease. Call Run on the Job after tx commits; if tx rolls back,
// nothing runs.
func (k *Kind[T]) InsertTx(ctx context.Context, tx *sql.Tx, args T) (*Job, error) {
	if k.err != nil {
		return nil, k.err
	}
	c := k.h.started()
	if c == nil {
		return nil, ErrNotStarted
	}
	res, err := c.InsertTx(ctx, tx, args, &river.InsertOpts{
		Queue:       k.h.cfg.Queue,
		ScheduledAt: time.Now().Add(k.h.cfg.Lease),
	})
	if err != nil {
		return nil, fmt.Errorf("fxasyncriver: insert %q: %w", k.name, err)
	}
	k.stats.inserted.Add(1)
	jobs := []fastJob[T]{{id: res.Job.ID, args: args}}
	return &Job{run: func(ctx context.Context) { k.runFast(ctx, jobs) }}, nil
}

// Submit keeps a durable task and returns once it is committed: answered
// without error, the task is kept through a crash. Concurrent submissions
// share one transaction (group commit, see Config.Committers). A kind
// without Before work is written in it, by one call of the handler for the
// kind's tasks there; a kind with Before work is a job there, which the
// fast path then claims and writes, with the other jobs of that commit, in
// a transaction of its own. Both run the handler with none of the callers'
// context values. A transaction that fails fails every submission in it,
// with its error. When the committers' queue is full, Submit refuses at
// once with an error matching fxasync.ErrFull. When ctx ends first, Submit
// returns its error: the task may yet commit.
func (k *Kind[T]) Submit(ctx context.Context, args T) error {
	return k.submit(ctx, []T{args})
}

// SubmitMany is Submit for several tasks, all kept in one transaction, or
// none. An args that cannot be encoded (its MarshalJSON fails or panics; on
// Postgres, a \u0000 in it) fails the call before anything is kept. args
// is copied: the caller may reuse it once SubmitMany returns.
func (k *Kind[T]) SubmitMany(ctx context.Context, args []T) error {
	return k.submit(ctx, slices.Clone(args))
}

// submit is Submit and SubmitMany, for args the committers may own.
func (k *Kind[T]) submit(ctx context.Context, args []T) error {
	if k.err != nil {
		return k.err
	}
	if len(args) == 0 {
		return nil
	}
	s := &submission{ctx: ctx, kind: k, args: args, params: make([]river.InsertManyParams, len(args)), done: make(chan error, 1)}
	opts := &river.InsertOpts{Queue: k.h.cfg.Queue, ScheduledAt: time.Now().Add(k.h.cfg.Lease)}
	for i, a := range args {
		raw, err := encodeArgs(a, k.h.cfg.Dialect)
		if err != nil {
			return fmt.Errorf("fxasyncriver: submit %q: %w", k.name, err)
		}
		s.params[i] = river.InsertManyParams{Args: encodedArgs{kind: k.name, raw: raw}, InsertOpts: opts}
	}
	if err := k.h.enqueue(s); err != nil {
		if errors.Is(err, fxasync.ErrFull) {
			k.stats.refused.Add(int64(len(args)))
		}
		return err
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("fxasyncriver: submit %q: stopped waiting for the commit, which may yet happen: %w", k.name, context.Cause(ctx))
	}
}

func (k *Kind[T]) direct() bool         { return k.before == nil }
func (k *Kind[T]) counters() *kindStats { return k.stats }
func (k *Kind[T]) label() string        { return k.name }

// writeDirect writes the tasks of subs in tx: one call of the handler for
// all. A panic in the handler is its error.
func (k *Kind[T]) writeDirect(ctx context.Context, tx *sql.Tx, subs []*submission) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %s", render(p))
		}
	}()
	all := subs[0].args.([]T)
	if len(subs) > 1 {
		all = make([]T, 0, tasks(subs))
		for _, s := range subs {
			all = append(all, s.args.([]T)...)
		}
	}
	return k.handle(ctx, tx, all)
}

// worker is River's worker for a kind: the handler, then the job's
// completion, in one transaction.
type worker[T JobArgs] struct {
	river.WorkerDefaults[T]
	k *Kind[T]
}

func (w *worker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	k := w.k
	k.h.working.Add(1)
	defer k.h.working.Add(-1)
	if err := k.prepare(ctx, job.Args); err != nil {
		return err
	}
	err := k.h.inTx(ctx, func(tx *sql.Tx) error {
		if err := k.h.fence(ctx, tx, job.ID, job.Attempt); err != nil {
			return err
		}
		if err := k.handle(ctx, tx, []T{job.Args}); err != nil {
			return err
		}
		return complete(ctx, k.h.cfg.Dialect, tx, job)
	})
	if err != nil {
		return err
	}
	k.stats.byRiver.Add(1)
	return nil
}

// complete marks a running job completed inside tx, with the driver type of
// the dialect, as River's JobCompleteTx asks.
func complete[T JobArgs](ctx context.Context, d Dialect, tx *sql.Tx, job *river.Job[T]) error {
	var err error
	if d == Postgres {
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
	} else {
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
	}
	return err
}

// errStaleAttempt is a River run's error when its job was rescued and run
// again meanwhile (see Config.RescueAfter): it must not write the effect.
var errStaleAttempt = errors.New("fxasyncriver: the job was rescued and is another attempt's now")

// fence makes tx the job's at this attempt: it locks the job's row while
// it is still running at that attempt, or fails with errStaleAttempt. A run
// its process outlived the rescue of (a process that was only slow, not
// dead) then rolls back instead of writing the effect a second time: the
// rescuer's update waits for tx, and JobCompleteTx alone checks the state,
// not the attempt.
func (h *HandOff) fence(ctx context.Context, tx *sql.Tx, id int64, attempt int) error {
	q := "UPDATE river_job SET attempted_at = attempted_at WHERE id = ? AND attempt = ? AND state = 'running'"
	if h.cfg.Dialect == Postgres {
		q = "UPDATE river_job SET attempted_at = attempted_at WHERE id = $1 AND attempt = $2 AND state = 'running'"
	}
	res, err := tx.ExecContext(ctx, q, id, attempt)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(errStaleAttempt, err)
	}
	return nil
}
