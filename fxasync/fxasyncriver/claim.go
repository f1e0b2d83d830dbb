package fxasyncriver

// This file holds the fast path: durable tasks run at once by the
// scheduler, which claims their jobs and writes their effects in one
// transaction.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fxtools/background/fxasync"
	"github.com/riverqueue/river/rivertype"
)

// fastJob is a committed job the fast path runs: its id, and its args,
// decoded from raw first when the committers give the job's row.
type fastJob[T JobArgs] struct {
	id   int64
	args T
	raw  []byte
}

// runCommitted starts the fast path of jobs the committers inserted, as
// batches of at most maxGroup (a larger SubmitMany's), each claimed with
// one statement, well under SQLite's and Postgres' limits on parameters.
func (k *Kind[T]) runCommitted(rows []*rivertype.JobRow) {
	for chunk := range slices.Chunk(rows, maxGroup) {
		jobs := make([]fastJob[T], len(chunk))
		for i, r := range chunk {
			jobs[i] = fastJob[T]{id: r.ID, raw: r.EncodedArgs}
		}
		k.runFast(context.Background(), jobs)
	}
}

// runFast submits the claim-and-run of jobs, as one task, to the
// scheduler. Jobs whose fast path the drain cut off stay tracked, for Stop
// to make runnable at once; jobs refused because the scheduler is full are
// left to River, after their lease, untracked (memory is what is short). A
// handler that panics or calls runtime.Goexit fails like one that returns
// an error: River retries the jobs after their lease, and they are
// untracked, so the tracked set holds only work that runs or was cut off.
func (k *Kind[T]) runFast(ctx context.Context, jobs []fastJob[T]) {
	track(k.h, jobs)
	err := k.s.TryGo(ctx, k.name, func(ctx context.Context) error {
		returned := false
		defer func() {
			if !returned { // panicked (the scheduler logs it) or Goexit
				k.stats.deferred.Add(int64(len(jobs)))
				settle(k.h, jobs)
			}
		}()
		settled, err := k.claimAndRun(ctx, jobs)
		returned = true
		settle(k.h, settled)
		return err
	})
	if err != nil {
		k.stats.deferred.Add(int64(len(jobs)))
		if errors.Is(err, fxasync.ErrFull) {
			settle(k.h, jobs)
		}
	}
}

// claimAndRun claims the jobs and writes the tasks' effects in one
// transaction, and returns the jobs settled: written, River's, or failed
// and left to River's retry after the lease. A job gone, running, or
// already tried by River is River's: the others are written without it.
// When the task is cancelled (the drain's bound), the jobs stay for River
// and the task returns nil: nothing is lost. When a transaction of several
// fails otherwise, each job is tried in one of its own, so that one failing
// task does not hold back the others.
func (k *Kind[T]) claimAndRun(ctx context.Context, jobs []fastJob[T]) (settled []fastJob[T], err error) {
	if k.h.started() == nil {
		k.stats.deferred.Add(int64(len(jobs)))
		return nil, fxasync.ErrHandedOff // stopped: the jobs are River's
	}
	ready, failed, err := k.prepareAll(ctx, jobs)
	if ctx.Err() != nil { // cut off by the drain: tracked, for Stop to make runnable at once
		k.stats.deferred.Add(int64(len(jobs)))
		return nil, fxasync.ErrHandedOff
	}
	settled, err = k.outcome(ctx, nil, failed, err)
	if len(ready) == 0 {
		return settled, err
	}
	werr := k.claimAndWrite(ctx, ready)
	if werr == nil || len(ready) == 1 || ctx.Err() != nil {
		settled, werr = k.outcome(ctx, settled, ready, werr)
		return settled, errors.Join(err, werr)
	}
	var errs []error
	for i := range ready {
		one := ready[i : i+1]
		var e error
		if settled, e = k.outcome(ctx, settled, one, k.claimAndWrite(ctx, one)); e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		err = errors.Join(err, fmt.Errorf("%d of %d: %w", len(errs), len(ready), errs[0]))
	}
	return settled, err
}

// outcome counts the outcome err of jobs' fast path, and returns settled
// with those of them settled added. A job that failed is settled: River
// retries it after the lease. One cut off by the drain is not: it stays
// tracked, for Stop to make runnable at once, and is handed off
// (fxasync.ErrHandedOff, not a failure). Any other error is returned, to
// be logged and counted by the scheduler.
func (k *Kind[T]) outcome(ctx context.Context, settled, jobs []fastJob[T], err error) ([]fastJob[T], error) {
	switch {
	case err == nil:
		return append(settled, jobs...), nil
	case ctx.Err() != nil:
		k.stats.deferred.Add(int64(len(jobs)))
		return settled, fxasync.ErrHandedOff
	}
	k.stats.deferred.Add(int64(len(jobs)))
	return append(settled, jobs...), fmt.Errorf("fast path failed, River runs the job after its lease: %w", err)
}

// prepareAll decodes the jobs' args and runs their Before work (at once,
// for several), and returns the jobs ready for their transaction, those
// that failed, and why.
func (k *Kind[T]) prepareAll(ctx context.Context, jobs []fastJob[T]) (ready, failed []fastJob[T], err error) {
	errs := make([]error, len(jobs))
	for i := range jobs {
		if j := &jobs[i]; j.raw != nil {
			if e := json.Unmarshal(j.raw, &j.args); e != nil {
				errs[i] = fmt.Errorf("decode args: %w", e)
			}
			j.raw = nil
		}
	}
	switch {
	case k.before == nil:
	case len(jobs) == 1:
		if errs[0] == nil {
			errs[0] = k.prepare(ctx, jobs[0].args) // on the scheduler's task: its recover
		}
	default:
		var wg sync.WaitGroup
		for i := range jobs {
			if errs[i] == nil {
				wg.Go(func() { errs[i] = k.prepareGuarded(ctx, jobs[i].args) })
			}
		}
		wg.Wait()
	}
	for i, j := range jobs {
		if errs[i] != nil {
			failed = append(failed, j)
			continue
		}
		ready = append(ready, j)
	}
	if len(failed) > 0 {
		err = fmt.Errorf("%d of %d: %w", len(failed), len(jobs), errors.Join(firstErrs(errs, 3)...))
	}
	return ready, failed, err
}

// prepareGuarded is prepare on a goroutine of the fast path's own: a
// panic in Before is that task's error.
func (k *Kind[T]) prepareGuarded(ctx context.Context, args T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Before panicked: %s", render(p))
		}
	}()
	return k.prepare(ctx, args)
}

// firstErrs returns the first n errors in errs that are not nil.
func firstErrs(errs []error, n int) []error {
	var out []error
	for _, e := range errs {
		if e != nil && len(out) < n {
			out = append(out, e)
		}
	}
	return out
}

// claimAndWrite deletes the jobs still waiting at their first attempt and
// writes their tasks' effects in one transaction, and counts them.
func (k *Kind[T]) claimAndWrite(ctx context.Context, jobs []fastJob[T]) error {
	var claimed []T
	err := k.h.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if claimed, err = claim(ctx, k.h, tx, jobs); err != nil || len(claimed) == 0 {
			return err
		}
		return k.handle(ctx, tx, claimed)
	})
	if err != nil {
		return err
	}
	k.stats.fast.Add(int64(len(claimed)))
	k.stats.claimsLost.Add(int64(len(jobs) - len(claimed))) // River ran them, or runs them
	return nil
}

// inTx runs f in a transaction, and commits.
func (h *HandOff) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// params is the dialect's placeholders of a query's n arguments, each
// between before and after, separated by commas: "$1, $2" or "(?), (?)".
func (d Dialect) params(n int, before, after string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(before)
		if d == Postgres {
			b.WriteString("$" + strconv.Itoa(i+1))
		} else {
			b.WriteString("?")
		}
		b.WriteString(after)
	}
	return b.String()
}

// claim deletes in tx the jobs River never tried: still leased (scheduled)
// or available, at attempt 0; it returns their args. A row River completed
// must not be claimed (the effect would be written twice); a running one
// is River's.
//
// One DELETE with the condition in its WHERE, rather than River's
// JobDeleteTx: on Postgres, when River's fetch locks the row first,
// JobDeleteTx deletes nothing but returns the row as the statement's
// snapshot saw it (available, attempt 0), which reads as a claim; the race
// test wrote 7 of 1,000 effects twice that way. A plain DELETE re-checks
// its WHERE on the row River committed, and RETURNING gives the rows it
// deleted.
func claim[T JobArgs](ctx context.Context, h *HandOff, tx *sql.Tx, jobs []fastJob[T]) ([]T, error) {
	q := "DELETE FROM river_job WHERE attempt = 0 AND state IN ('scheduled', 'available') AND id IN (" +
		h.cfg.Dialect.params(len(jobs), "", "") + ") RETURNING id"
	ids := make([]any, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	rows, err := tx.QueryContext(ctx, q, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	deleted := make(map[int64]bool, len(jobs))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		deleted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	args := make([]T, 0, len(deleted))
	for _, j := range jobs {
		if deleted[j.id] {
			args = append(args, j.args)
		}
	}
	return args, nil
}

// track and settle keep the set of fast-path jobs started and not settled,
// which Stop makes runnable at once.
func track[T JobArgs](h *HandOff, jobs []fastJob[T]) {
	h.mu.Lock()
	for _, j := range jobs {
		h.out[j.id] = struct{}{}
	}
	h.mu.Unlock()
}

func settle[T JobArgs](h *HandOff, jobs []fastJob[T]) {
	h.mu.Lock()
	for _, j := range jobs {
		delete(h.out, j.id)
	}
	h.mu.Unlock()
}
