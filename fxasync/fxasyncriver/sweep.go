package fxasyncriver

// This file holds what the hand-off does to River's table outside River's
// own loops: migrations at start, the start-up sweep of a SQLite file's
// leftover jobs, and, at stop, making unsettled fast-path jobs runnable.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// migrateLock is the Postgres advisory lock that serialises migrations of
// replicas starting at once (rivermigrate takes none).
const migrateLock = 0x66786173796e63 // "fxasync"

// migrate applies River's migrations. On Postgres, under a session
// advisory lock (migrations cannot share one transaction: one adds an enum
// value the next uses): a replica that waited finds them applied.
func (h *HandOff) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(h.driver, &rivermigrate.Config{Logger: h.log})
	if err != nil {
		return err
	}
	up := func() error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	}
	if h.cfg.Dialect == Postgres {
		return withAdvisoryLock(ctx, h.db, migrateLock, up)
	}
	return up()
}

// sweep makes the registered kinds' leftover jobs runnable at once, before
// River starts: with one process owning a SQLite file, a job still leased
// or running belongs to a process that is gone. Without the sweep, leased
// jobs wait out their lease and running ones River's rescuer (an hour).
func (h *HandOff) sweep(ctx context.Context, c *river.Client[*sql.Tx]) error {
	kinds := slices.Sorted(maps.Keys(h.kinds))
	if len(kinds) == 0 {
		return nil
	}
	// River's API retries any job but a running one; a running job of a dead
	// process is made available directly (its scheduled_at is past).
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = k
	}
	q := "UPDATE river_job SET state = 'available' WHERE state = 'running' AND kind IN (?" +
		strings.Repeat(", ?", len(kinds)-1) + ")"
	if _, err := h.db.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	return h.retryLeased(ctx, c, kinds)
}

// retryLeased makes the kinds' leased (scheduled) jobs runnable at once.
func (h *HandOff) retryLeased(ctx context.Context, c *river.Client[*sql.Tx], kinds []string) error {
	for {
		res, err := c.JobList(ctx, river.NewJobListParams().Kinds(kinds...).
			States(rivertype.JobStateScheduled).First(1000))
		if err != nil || len(res.Jobs) == 0 {
			return err
		}
		if err := h.retry(ctx, c, ids(res.Jobs)); err != nil {
			return err
		}
	}
}

// release makes the fast-path jobs that did not settle runnable at once,
// and returns how many.
func (h *HandOff) release(ctx context.Context, c *river.Client[*sql.Tx]) (int, error) {
	h.mu.Lock()
	left := slices.Collect(maps.Keys(h.out))
	clear(h.out)
	h.mu.Unlock()
	if err := h.retry(ctx, c, left); err != nil {
		return 0, err // still leased: River runs them when the lease ends
	}
	return len(left), nil
}

// retry makes jobs runnable now, in one transaction.
func (h *HandOff) retry(ctx context.Context, c *river.Client[*sql.Tx], jobs []int64) error {
	if len(jobs) == 0 {
		return nil
	}
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, id := range jobs {
		if _, err := c.JobRetryTx(ctx, tx, id); err != nil && !isGone(err) {
			return err
		}
	}
	return tx.Commit()
}

func ids(rows []*rivertype.JobRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func isGone(err error) bool { return errors.Is(err, rivertype.ErrNotFound) }

// warnUnknown logs, once at Start, the jobs waiting in River's table whose
// kind no kind registered here handles (a kind renamed or removed): River
// fetches known kinds only, so they wait for a process that registers them.
// At most ten kinds are named, the largest first, with the total.
func (h *HandOff) warnUnknown(ctx context.Context) {
	kinds := slices.Sorted(maps.Keys(h.kinds))
	q := "SELECT kind, COUNT(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable')"
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = k
		if i == 0 {
			q += " AND kind NOT IN ("
		} else {
			q += ", "
		}
		if h.cfg.Dialect == Postgres {
			q += "$" + strconv.Itoa(i+1)
		} else {
			q += "?"
		}
	}
	if len(kinds) > 0 {
		q += ")"
	}
	rows, err := h.db.QueryContext(ctx, q+" GROUP BY kind ORDER BY COUNT(*) DESC", args...)
	if err != nil {
		return // a figure for the log, not a reason to fail the start
	}
	defer rows.Close()
	var named []string
	total := 0
	for rows.Next() {
		var kind string
		var n int
		if rows.Scan(&kind, &n) != nil {
			return
		}
		if total += n; len(named) < 10 {
			named = append(named, fmt.Sprintf("%s: %d", render(kind), n))
		}
	}
	if total > 0 {
		h.log.Warn("fxasyncriver: jobs of kinds not registered here wait in River's table",
			"jobs", total, "kinds", strings.Join(named, ", "))
	}
}
