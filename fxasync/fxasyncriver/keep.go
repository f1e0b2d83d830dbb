package fxasyncriver

// This file holds in-memory tasks of a registered kind and the stop's
// spill: what the drain cut short goes to River instead of being lost.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
//
// A handler that panics or calls runtime.Goexit fails like one that
// returns an error (the scheduler logs and counts it): it is not spilled.
// When the kind's registration failed (after Start, or twice), Go returns
// that error and runs nothing.
func (k *Kind[T]) Go(ctx context.Context, args T) error {
	if k.err != nil {
		return k.err
	}
	id := k.h.hold(spilled{args: args, stats: k.stats})
	err := k.h.sched.TryGo(ctx, k.name, func(ctx context.Context) error {
		cut := false
		defer func() {
			if !cut {
				k.h.drop(id) // settled: written, failed, panicked or Goexit
			}
		}()
		err := k.inTx(ctx, args, nil)
		switch {
		case err == nil:
			k.stats.memory.Add(1)
		case ctx.Err() != nil:
			cut = true
			return nil // cut off by the drain's bound: Stop spills it
		}
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
func (h *HandOff) hold(s spilled) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.liveSeq++
	h.live[h.liveSeq] = s
	return h.liveSeq
}

func (h *HandOff) drop(id uint64) {
	h.mu.Lock()
	delete(h.live, id)
	h.mu.Unlock()
}

// spill inserts todo — the unsettled in-memory tasks and the batchers'
// unwritten items — into River, runnable at once, in one transaction, and
// returns how many. Tasks still running (they ignored the cut) are
// included and may yet commit: spilled work is at least once.
//
// Each item is encoded first, alone and under recover: one whose
// MarshalJSON panics or fails, or (Postgres) whose JSON jsonb refuses, is
// counted lost and the others are handed off. A failed insert loses them
// all, counted. Either way the error is a *SpillError with the count.
func (h *HandOff) spill(ctx context.Context, c *river.Client[*sql.Tx], todo []spilled) (int, error) {
	if len(todo) == 0 {
		return 0, nil
	}
	params, good, bad := h.encode(todo)
	var errs []error
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("%d cannot be encoded: %w", len(bad), errors.Join(bad...)))
	}
	if len(params) > 0 {
		if err := h.insertMany(ctx, c, params); err != nil {
			return 0, &SpillError{Lost: len(todo), Err: errors.Join(append(errs, err)...)}
		}
	}
	for _, s := range good {
		s.stats.spilled.Add(1)
	}
	if len(bad) > 0 {
		return len(good), &SpillError{Lost: len(bad), Err: errors.Join(errs...)}
	}
	return len(good), nil
}

// unsettled takes the in-memory tasks and batcher items left to spill.
func (h *HandOff) unsettled() []spilled {
	h.mu.Lock()
	todo := slices.Collect(maps.Values(h.live))
	clear(h.live)
	batchers := h.batchers
	h.mu.Unlock()
	for _, take := range batchers {
		todo = append(todo, take()...)
	}
	return todo
}

// encode turns the items that encode into insert parameters, and returns
// them, the items they hold, and one error per item that does not (at
// most maxSpillErrors kept: they are for a log line).
func (h *HandOff) encode(todo []spilled) (params []river.InsertManyParams, good []spilled, bad []error) {
	opts := &river.InsertOpts{Queue: h.cfg.Queue}
	nBad := 0
	for _, s := range todo {
		raw, err := encodeArgs(s.args, h.cfg.Dialect)
		if err != nil {
			if nBad++; nBad <= maxSpillErrors {
				bad = append(bad, err)
			}
			continue
		}
		params = append(params, river.InsertManyParams{Args: encodedArgs{kind: s.args.Kind(), raw: raw}, InsertOpts: opts})
		good = append(good, s)
	}
	for ; nBad > len(bad); nBad-- {
		bad = append(bad, errEncode)
	}
	return params, good, bad
}

const maxSpillErrors = 3

var errEncode = errors.New("cannot be encoded")

// encodeArgs is args' JSON, or why it cannot be River's: its marshaller
// failed or panicked, or (Postgres) it holds \u0000, which jsonb refuses.
func encodeArgs(args JobArgs, d Dialect) (raw []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: MarshalJSON panicked: %s", errEncode, render(p))
		}
	}()
	raw, err = json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errEncode, render(err))
	}
	if d == Postgres && hasEscapedNUL(raw) {
		return nil, fmt.Errorf("%w: a \\u0000, which Postgres' jsonb refuses", errEncode)
	}
	return raw, nil
}

// hasEscapedNUL reports whether JSON raw holds the escape \u0000: a
// backslash that is not itself escaped, then u0000.
func hasEscapedNUL(raw []byte) bool {
	for i := 0; i+6 <= len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if string(raw[i+1:i+6]) == "u0000" {
			return true
		}
		i++ // skip the escaped character: \\ is one backslash
	}
	return false
}

// encodedArgs are an item's args as already encoded: River inserts them
// as they are, without calling the item's marshaller a second time.
type encodedArgs struct {
	kind string
	raw  json.RawMessage
}

func (a encodedArgs) Kind() string                 { return a.kind }
func (a encodedArgs) MarshalJSON() ([]byte, error) { return a.raw, nil }

// insertMany inserts params in one transaction.
func (h *HandOff) insertMany(ctx context.Context, c *river.Client[*sql.Tx], params []river.InsertManyParams) error {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := c.InsertManyTx(ctx, tx, params); err != nil {
		return err
	}
	return tx.Commit()
}

// SpillError is Stop's error when the spill failed: its tasks are lost.
// The shutdown summary counts them (it is an fxshutdown.LossError).
type SpillError struct {
	Lost int
	Err  error
}

func (e *SpillError) Error() string {
	return fmt.Sprintf("fxasyncriver: %d task(s) not handed off to River: %s", e.Lost, render(e.Err))
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
