package fxasyncriver

// This file holds the fast path: a durable task run at once by the
// scheduler, which claims its job and writes its effect in one transaction.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fxtools/background/fxasync"
)

// runFast submits the claim-and-run of job id to the scheduler. A job
// whose fast path the drain cut off stays tracked, for Stop to make
// runnable at once; one refused because the scheduler is full is left to
// River, after its lease, untracked (memory is what is short). A handler
// that panics or calls runtime.Goexit fails like one that returns an
// error: River retries the job after its lease, and it is untracked, so
// the tracked set holds only work that runs or was cut off.
func (k *Kind[T]) runFast(ctx context.Context, id int64, args T) {
	k.h.track(id)
	err := k.s.TryGo(ctx, k.name, func(ctx context.Context) error {
		returned := false
		defer func() {
			if !returned { // panicked (the scheduler logs it) or Goexit
				k.stats.deferred.Add(1)
				k.h.settle(id)
			}
		}()
		settled, err := k.claimAndRun(ctx, id, args)
		returned = true
		if settled {
			k.h.settle(id)
		}
		return err
	})
	if err != nil {
		k.stats.deferred.Add(1)
		if errors.Is(err, fxasync.ErrFull) {
			k.h.settle(id)
		}
	}
}

// claimAndRun deletes the job and writes the task's effect in one
// transaction, and reports whether the job is settled: written, River's,
// or failed and left to River's retry after the lease.
// When the job is gone, running, or was already tried by River, River owns
// it: the transaction rolls back. When the task is cancelled (the drain's
// bound), the job stays for River and the task returns nil: nothing is
// lost.
func (k *Kind[T]) claimAndRun(ctx context.Context, id int64, args T) (settled bool, err error) {
	if k.h.started() == nil {
		k.stats.deferred.Add(1)
		return false, fxasync.ErrHandedOff // stopped: the job is River's
	}
	err = k.inTx(ctx, args, func(tx *sql.Tx) (bool, error) { return k.h.claim(ctx, tx, id) })
	switch {
	case errors.Is(err, errNotClaimed):
		k.stats.claimsLost.Add(1)
		return true, nil // River ran it, or runs it
	case err != nil:
		// Cut off by the drain: tracked, for Stop to make runnable at once.
		// Failed: River retries it after the lease; nothing to track, so a
		// failing handler cannot grow the tracked set.
		return ctx.Err() == nil, k.leave(ctx, err)
	}
	k.stats.fast.Add(1)
	return true, nil
}

// errNotClaimed is inTx's error when the claim found River owns the job.
var errNotClaimed = errors.New("job not claimed")

// inTx runs the Before work, then, in one transaction, the claim (when not
// nil) and the handler, and commits.
func (k *Kind[T]) inTx(ctx context.Context, args T, claim func(*sql.Tx) (bool, error)) error {
	if err := k.prepare(ctx, args); err != nil {
		return err
	}
	tx, err := k.h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if claim != nil {
		claimed, err := claim(tx)
		if err != nil {
			return err
		}
		if !claimed {
			return errNotClaimed
		}
	}
	if err := k.handle(ctx, tx, args); err != nil {
		return err
	}
	return tx.Commit()
}

// claim deletes job id in tx if River never tried it: still leased
// (scheduled) or available, at attempt 0. A row River completed must not
// be claimed (the effect would be written twice); a running one is River's.
//
// One DELETE with the condition in its WHERE, rather than River's
// JobDeleteTx: on Postgres, when River's fetch locks the row first,
// JobDeleteTx deletes nothing but returns the row as the statement's
// snapshot saw it (available, attempt 0), which reads as a claim; the race
// test wrote 7 of 1,000 effects twice that way. A plain DELETE re-checks
// its WHERE on the row River committed.
func (h *HandOff) claim(ctx context.Context, tx *sql.Tx, id int64) (bool, error) {
	q := "DELETE FROM river_job WHERE id = ? AND attempt = 0 AND state IN ('scheduled', 'available')"
	if h.cfg.Dialect == Postgres {
		q = "DELETE FROM river_job WHERE id = $1 AND attempt = 0 AND state IN ('scheduled', 'available')"
	}
	res, err := tx.ExecContext(ctx, q, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// leave ends a fast path that did not commit: the job stays in the
// database and River runs it after the lease. A cancellation (the drain's
// bound) is not a failure: the job is handed off (fxasync.ErrHandedOff);
// any other error is returned, to be logged and counted by the scheduler.
func (k *Kind[T]) leave(ctx context.Context, err error) error {
	k.stats.deferred.Add(1)
	if ctx.Err() != nil {
		return fxasync.ErrHandedOff
	}
	return fmt.Errorf("fast path failed, River runs the job after its lease: %w", err)
}

// track and settle keep the set of fast-path jobs started and not settled,
// which Stop makes runnable at once.
func (h *HandOff) track(id int64) {
	h.mu.Lock()
	h.out[id] = struct{}{}
	h.mu.Unlock()
}

func (h *HandOff) settle(id int64) {
	h.mu.Lock()
	delete(h.out, id)
	h.mu.Unlock()
}
