package fxasyncriver

// This file holds in-memory tasks of a registered kind and the Keeper: what
// the drain cut short goes to River instead of being lost.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/riverqueue/river"
)

// Go runs an in-memory task of the kind on the scheduler: no job is
// inserted, so it costs the caller nothing but the submission. It is not
// kept through a crash; but what the drain's bound cuts short (or has not
// started) the scheduler hands to its Keeper — this HandOff, when the
// scheduler was made with it — which inserts it into River, to run after a
// restart or at once on another replica sharing Postgres. Go waits for a
// slot and returns the scheduler's refusal as fxasync.Kind.Go does. A
// handler's error is a failure, logged and counted by the scheduler; a
// handler that panics or calls runtime.Goexit fails like one that returns
// an error: only the drain's cut is kept. When the kind's registration
// failed (after Start, or twice), Go returns that error and runs nothing.
func (k *Kind[T]) Go(ctx context.Context, args T) error {
	if k.err != nil {
		return k.err
	}
	return k.mem.Go(ctx, args)
}

// runMemory is an in-memory task's run: the handler in a transaction of
// its own.
func (k *Kind[T]) runMemory(ctx context.Context, args T) error {
	if err := k.prepare(ctx, args); err != nil {
		return err
	}
	err := k.h.inTx(ctx, func(tx *sql.Tx) error { return k.handle(ctx, tx, []T{args}) })
	if err != nil {
		return err
	}
	k.stats.memory.Add(1)
	return nil
}

// Keep inserts items into River, runnable at once, in one transaction, and
// returns how many: the scheduler calls it at the end of its drain with the
// work of fxasync Kinds (this package's Go) and of batchers with
// fxasync.BatcherConfig.Keep that did not finish (see fxasync.Keeper).
// Each item must be the args of a kind registered here; kind, the
// scheduler's name for the work, is not used. Items still running (they
// ignored the cut) are included and may yet commit: kept work is at least
// once. In an fxshutdown step, the summary notes how many were handed off.
//
// Each item is encoded first, alone and under recover: one whose
// MarshalJSON panics or fails, or (Postgres) whose JSON jsonb refuses, or
// of a kind not registered, is lost, counted, and the others are kept. A
// failed insert keeps none.
func (h *HandOff) Keep(ctx context.Context, _ string, items []any) (int, error) {
	c := h.started()
	if c == nil {
		return 0, ErrNotStarted
	}
	params, good, bad := h.encode(items)
	var errs []error
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("%d cannot be kept: %w", len(bad), errors.Join(bad...)))
	}
	if len(params) > 0 {
		if err := h.insertMany(ctx, c, params); err != nil {
			return 0, errors.Join(append(errs, err)...)
		}
	}
	for _, st := range good {
		st.kept.Add(1)
	}
	if len(good) > 0 {
		fxshutdown.Note(ctx, fmt.Sprintf("handed off %d task(s) to River", len(good)))
	}
	return len(good), errors.Join(errs...)
}

// encode turns the items that are args of a registered kind and encode
// into insert parameters, and returns them, their kinds' counters, and one
// error per item that does not (at most maxKeepErrors kept: they are for
// a log line).
func (h *HandOff) encode(items []any) (params []river.InsertManyParams, good []*kindStats, bad []error) {
	opts := &river.InsertOpts{Queue: h.cfg.Queue}
	nBad := 0
	for _, it := range items {
		o := opts
		if r, ok := it.(*fxasync.Retried); ok && r != nil {
			it, o = r.Value, h.retriedOpts(r)
		}
		kind, st, raw, err := h.encodeItem(it)
		if err != nil {
			if nBad++; nBad <= maxKeepErrors {
				bad = append(bad, err)
			}
			continue
		}
		params = append(params, river.InsertManyParams{Args: encodedArgs{kind: kind, raw: raw}, InsertOpts: o})
		good = append(good, st)
	}
	for ; nBad > len(bad); nBad-- {
		bad = append(bad, errEncode)
	}
	return params, good, bad
}

const maxKeepErrors = 3

// KeepsRetryState makes the HandOff an fxasync.RetryKeeper: a task whose
// in-memory retries the drain cut short becomes a job scheduled at its
// next attempt, with River's attempts reduced by those it made (at least
// one left).
func (*HandOff) KeepsRetryState() {}

// retriedOpts are a cut retry's insert options.
func (h *HandOff) retriedOpts(r *fxasync.Retried) *river.InsertOpts {
	return &river.InsertOpts{Queue: h.cfg.Queue, ScheduledAt: r.NotBefore,
		MaxAttempts: max(river.MaxAttemptsDefault-r.Attempts, 1)}
}

// encodeItem is an item's kind, counters and JSON, or why River cannot
// keep it: not a registered kind's args, or not encodable.
func (h *HandOff) encodeItem(it any) (kind string, st *kindStats, raw []byte, err error) {
	args, ok := it.(JobArgs)
	if !ok {
		return "", nil, nil, fmt.Errorf("%w: a %T is not River job args", errEncode, it) // %T calls no method
	}
	if kind, err = kindOf(args); err != nil {
		return "", nil, nil, err
	}
	if st = h.kinds[kind]; st == nil {
		return "", nil, nil, fmt.Errorf("%w: kind %q is not registered", errEncode, render(kind))
	}
	raw, err = encodeArgs(args, h.cfg.Dialect)
	return kind, st, raw, err
}

// kindOf is args.Kind(), guarded: it is the user's method.
func kindOf(args JobArgs) (kind string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: Kind panicked: %s", errEncode, render(p))
		}
	}()
	return args.Kind(), nil
}

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
	return h.inTx(ctx, func(tx *sql.Tx) error {
		_, err := c.InsertManyTx(ctx, tx, params)
		return err
	})
}
