package fxasyncriver

// This file holds in-memory tasks of a registered kind and the stop's
// spill: what the drain cut short goes to River instead of being lost.

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fxtools/background/fxasync"
	"github.com/riverqueue/river"
)

// spilled is one unsettled in-memory task, ready to insert.
type spilled struct {
	args  JobArgs
	stats *kindStats
}

// Go runs an in-memory task of the kind on the scheduler: no job is
// inserted, so it costs the caller nothing but the submission. It is not
// kept through a crash; but when the drain's bound cuts it short (or it
// has not started by then), the stop hands it to River, which runs it
// after a restart — or at once on another replica sharing Postgres. Go
// returns the scheduler's refusal (fxasync.ErrFull, ErrClosed) as TryGo
// does. A handler's error is a failure, logged and counted by the
// scheduler, as for any task: only the drain's cut is handed off.
func (k *Kind[T]) Go(ctx context.Context, args T) error {
	id := k.h.hold(spilled{args: args, stats: k.stats})
	err := k.h.sched.TryGo(ctx, k.name, func(ctx context.Context) error {
		err := k.inTx(ctx, args, nil)
		switch {
		case err == nil:
			k.stats.memory.Add(1)
		case ctx.Err() != nil:
			return nil // cut off by the drain's bound: Stop spills it
		}
		k.h.drop(id)
		return err
	})
	if err != nil {
		k.h.drop(id)
	}
	return err
}

// SpillBatcher makes the stop hand to River, as tasks of kind k, the items
// batcher b has not written when the drain ends (see
// fxasync.Batcher.KeepUnwritten): the drain counts them as kept, not lost.
// Use it for a batcher whose write stores what k's handler stores. Call it
// before the drain.
func SpillBatcher[T JobArgs](k *Kind[T], b *fxasync.Batcher[T]) {
	b.KeepUnwritten()
	k.h.mu.Lock()
	defer k.h.mu.Unlock()
	k.h.batchers = append(k.h.batchers, func() []spilled {
		items := b.Unwritten()
		out := make([]spilled, len(items))
		for i, it := range items {
			out[i] = spilled{args: it, stats: k.stats}
		}
		return out
	})
}

// hold records an in-memory task until it settles; drop forgets it.
func (h *Handoff) hold(s spilled) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.liveSeq++
	h.live[h.liveSeq] = s
	return h.liveSeq
}

func (h *Handoff) drop(id uint64) {
	h.mu.Lock()
	delete(h.live, id)
	h.mu.Unlock()
}

// spill inserts every unsettled in-memory task and every batcher's
// unwritten items into River, runnable at once, in one transaction, and
// returns how many. Tasks still running (they ignored the cut) are
// included and may yet commit: spilled work is at least once.
func (h *Handoff) spill(ctx context.Context, c *river.Client[*sql.Tx]) (int, error) {
	h.mu.Lock()
	todo := slices.Collect(maps.Values(h.live))
	clear(h.live)
	batchers := h.batchers
	h.mu.Unlock()
	for _, take := range batchers {
		todo = append(todo, take()...)
	}
	if len(todo) == 0 {
		return 0, nil
	}
	params := make([]river.InsertManyParams, len(todo))
	for i, s := range todo {
		params[i] = river.InsertManyParams{Args: s.args, InsertOpts: &river.InsertOpts{Queue: h.cfg.Queue}}
	}
	tx, err := h.db.BeginTx(ctx, nil)
	if err == nil {
		defer func() { _ = tx.Rollback() }()
		_, err = c.InsertManyTx(ctx, tx, params)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return 0, &SpillError{Lost: len(todo), Err: err}
	}
	for _, s := range todo {
		s.stats.spilled.Add(1)
	}
	return len(todo), nil
}

// SpillError is Stop's error when the spill failed: its tasks are lost.
// The shutdown summary counts them (it is an fxshutdown.LossError).
type SpillError struct {
	Lost int
	Err  error
}

func (e *SpillError) Error() string {
	return fmt.Sprintf("fxasyncriver: %d task(s) not handed off to River: %v", e.Lost, e.Err)
}

func (e *SpillError) Unwrap() error { return e.Err }

// LostTotal is how many tasks the failed spill lost.
func (e *SpillError) LostTotal() int { return e.Lost }

// handedOff describes a stop's hand-off for the shutdown summary.
func handedOff(spilled, released int) string {
	var parts []string
	if spilled > 0 {
		parts = append(parts, fmt.Sprintf("handed off %d task(s) to River", spilled))
	}
	if released > 0 {
		parts = append(parts, fmt.Sprintf("made %d leased job(s) runnable", released))
	}
	return strings.Join(parts, "; ")
}
