package fxasync

// This file holds one batch's write: the user's write function called
// under recover, and a failed batch split down to the items that fail on
// their own, so that one poison item does not take its batch-mates with it.

import (
	"context"
	"fmt"
	"math/bits"
	"runtime/debug"
	"time"

	"github.com/fxtools/background/internal/logx"
)

// batchWrite is one batch's write, split on failure.
//
// Invariant: the items before pos are settled — written, or in failed —
// and the items from pos on are not; so whatever ends the write (a return,
// a panic turned into an error, runtime.Goexit), the batcher settles every
// item exactly once: batch[pos:] as failed when the write did not finish.
//
// A failed write is split in halves, each written again, down to single
// items. A run of failed writes longer than maxRun — the tree's depth and a
// few more, enough to reach the first poison items — means the failure is
// not the items' (a database that is down): the rest fails without another
// write, so an outage costs a batch about log₂(n) writes, not 2n.
type batchWrite[T any] struct {
	write   func(context.Context, []T) error
	batch   []T
	pos     int
	failed  [][]T         // settled as failed, in order
	nFailed int           // items in failed
	writes  int           // calls to write
	run     int           // consecutive failed writes
	maxRun  int           // see the invariant
	took    time.Duration // spent in writes that succeeded
	err     error         // the last write's error
	sizes   []int         // for Sizers: the batch's items' sizes
	bytes   int           // their sum
	// failedAt is where each of failed begins in batch.
	failedAt []int
	suspects int // the batch's first items are on their second chance
	requeued int // failed items put back for another write: not in nFailed
}

func newBatchWrite[T any](write func(context.Context, []T) error, batch []T, sizes []int) *batchWrite[T] {
	w := &batchWrite[T]{write: write, batch: batch, maxRun: bits.Len(uint(len(batch))) + 4, sizes: sizes}
	for _, size := range sizes {
		w.bytes += size
	}
	return w
}

// do writes items, batch[pos:pos+len(items)], splitting on failure.
func (w *batchWrite[T]) do(ctx context.Context, items []T) {
	if w.run > w.maxRun || (w.run > 0 && ctx.Err() != nil) {
		w.fail(items) // not worth another write, or cut off by the drain
		return
	}
	start := time.Now()
	err := w.call(ctx, items)
	if err == nil {
		w.took += time.Since(start)
		w.run = 0
		w.pos += len(items)
		return
	}
	w.err = err
	w.run++
	if len(items) == 1 {
		w.fail(items)
		return
	}
	half := len(items) / 2
	w.do(ctx, items[:half])
	w.do(ctx, items[half:])
}

func (w *batchWrite[T]) fail(items []T) {
	w.failed = append(w.failed, items)
	w.failedAt = append(w.failedAt, w.pos)
	w.nFailed += len(items)
	w.pos += len(items)
}

// call runs the write once; a panic becomes its error, with the stack in
// the error's verbose form (%+v). On runtime.Goexit the goroutine ends
// anyway: the batcher's deferred settle counts what is left.
func (w *batchWrite[T]) call(ctx context.Context, items []T) (err error) {
	w.writes++
	returned := false
	defer func() {
		if !returned {
			err = &writePanic{value: logx.Value(recover()), stack: debug.Stack()}
		}
	}()
	err = w.write(ctx, items)
	returned = true
	return err
}

// failedBeyond reports whether an item at index k or later failed.
func (w *batchWrite[T]) failedBeyond(k int) bool {
	for i, f := range w.failed {
		if w.failedAt[i]+len(f) > k {
			return true
		}
	}
	return false
}

// written is how many items were written.
func (w *batchWrite[T]) written() int { return w.pos - w.nFailed - w.requeued }

// result is the write's error for the scheduler's log: nil when every item
// was written.
func (w *batchWrite[T]) result() error {
	if w.nFailed == 0 {
		return nil
	}
	n := len(w.batch)
	if w.writes == 1 {
		return &flushError{fmt.Sprintf("flush of %d item(s)", n), w.err}
	}
	return &flushError{fmt.Sprintf("flush of %d item(s): %d failed, %d written in %d writes",
		n, w.nFailed, w.written(), w.writes), w.err}
}

// flushError is a batch's failure: what failed, then the last write's
// error, whose verbose form (a panic's stack) %+v keeps.
type flushError struct {
	what string
	err  error
}

func (e *flushError) Error() string { return e.what + ": " + e.err.Error() }
func (e *flushError) Unwrap() error { return e.err }

func (e *flushError) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('+') {
		_, _ = fmt.Fprintf(s, "%s: %+v", e.what, e.err)
		return
	}
	_, _ = fmt.Fprint(s, e.Error())
}

// writePanic is the error of a write that panicked.
type writePanic struct {
	value string // rendered at once: the value's methods may panic again
	stack []byte
}

func (p *writePanic) Error() string { return "write panicked: " + p.value }

// Format adds the stack to %+v, which the scheduler logs as errorVerbose.
func (p *writePanic) Format(s fmt.State, verb rune) {
	_, _ = fmt.Fprint(s, p.Error())
	if verb == 'v' && s.Flag('+') {
		_, _ = fmt.Fprintf(s, "\n%s", p.stack)
	}
}
