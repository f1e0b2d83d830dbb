package fxasync

// This file holds how a batcher retries a failed write (BatcherConfig.Retry):
// a write that failed as the store fails goes back to the head of the queue
// after a backoff; items that failed beside written ones get one more write
// on their own, so that a store that came back mid-write costs nothing and
// a poison item costs only itself.

import (
	"errors"
	"time"

	"github.com/fxtools/background/internal/core"
)

// failRun is a run of writes that failed as the store's.
type failRun struct {
	attempts int       // failed writes in the run; 0: the last write did not fail so
	since    time.Time // the first's end
}

// failure is how a write's failed items may be tried again.
type failure uint8

const (
	final     failure = iota // not retryable: they fail
	storeDown                // nothing written, or a run of failures at the end
	beside                   // some items failed beside written ones
)

// failureOf classifies w's failure; the error is the user's, so it is
// called outside the lock.
func (b *Batcher[T]) failureOf(w *batchWrite[T]) failure {
	if w.nFailed == 0 || !b.policy.Retries() {
		return final
	}
	var p *writePanic
	if errors.As(w.err, &p) && !b.policy.Panics || !b.policy.IsRetryable(w.err) {
		return final
	}
	if !w.failedBeyond(w.suspects) {
		return final // each had its second chance
	}
	if w.written() == 0 || w.run > w.maxRun {
		return storeDown
	}
	return beside
}

// settle counts a finished (or abandoned: Goexit) write, and reports
// whether it is no failure: its failed items kept for a hand-off, or put
// back for another write.
func (b *Batcher[T]) settle(w *batchWrite[T]) (ok bool) {
	goexit := w.pos < len(w.batch)
	if goexit {
		w.fail(w.batch[w.pos:]) // the write ended the goroutine
	}
	how := final
	if !goexit {
		how = b.failureOf(w)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case how == storeDown && b.retryLocked():
		b.requeueLocked(w, w.failed, w.failedAt)
		b.suspects = 0 // the head is this batch again
		b.settleLocked(w, nil)
		return true
	case how == storeDown:
		b.n.gaveUp.Add(int64(w.nFailed))
	case how == beside:
		b.secondChanceLocked(w)
	}
	if w.nFailed == 0 {
		b.failing = failRun{}
	}
	failed := &b.n.failed
	if w.nFailed > 0 && b.keepLocked(w.failed) {
		failed, ok = nil, true // counted by the keep
	}
	b.settleLocked(w, failed)
	return ok || w.nFailed == 0
}

// retryLocked counts one more failed write in the run and, if the policy
// and the drain's bound allow another attempt, arms its backoff.
func (b *Batcher[T]) retryLocked() bool {
	if b.taken {
		return false
	}
	if b.failing.attempts == 0 {
		b.failing.since = b.clock.Now()
	}
	b.failing.attempts++
	n, p := b.failing.attempts, b.policy
	wait := p.Backoff(n)
	if p.MaxAttempts != core.Unbounded && n >= p.MaxAttempts ||
		p.MaxElapsed != core.Unbounded && b.clock.Now().Sub(b.failing.since)+wait > p.MaxElapsed ||
		b.e.PastDrainBound(wait) {
		return false
	}
	b.n.retries.Add(1)
	b.armLocked(wait)
	b.backoff = true
	return true
}

// secondChanceLocked puts back the items that failed beside written ones
// and had not failed so before; those on their second chance fail.
func (b *Batcher[T]) secondChanceLocked(w *batchWrite[T]) {
	if b.taken || b.e.PastDrainBound(0) {
		return
	}
	var again, fail [][]T
	var againAt, failAt []int
	for i, f := range w.failed {
		at := w.failedAt[i]
		if cut := min(max(w.suspects-at, 0), len(f)); cut > 0 {
			fail, failAt = append(fail, f[:cut]), append(failAt, at)
			f, at = f[cut:], at+cut
		}
		if len(f) > 0 {
			again, againAt = append(again, f), append(againAt, at)
		}
	}
	n := b.requeueLocked(w, again, againAt)
	b.suspects += n
	w.failed, w.failedAt, w.nFailed, w.requeued = fail, failAt, w.nFailed-n, n
	if n > 0 {
		b.n.retries.Add(1)
	}
}

// requeueLocked puts parts of w's batch (each beginning at its index in at)
// back at the head of the queue, in order, and returns how many items.
func (b *Batcher[T]) requeueLocked(w *batchWrite[T], parts [][]T, at []int) int {
	items := make([]T, 0, len(b.buf)+len(w.batch))
	var sizes []int
	for i, f := range parts {
		items = append(items, f...)
		if b.sized {
			sizes = append(sizes, w.sizes[at[i]:at[i]+len(f)]...)
		}
	}
	n := len(items)
	b.buf = append(items, b.buf...)
	if b.sized {
		for _, size := range sizes {
			b.bytes += size // settleLocked takes the whole batch's off
		}
		b.sizes = append(sizes, b.sizes...)
	}
	return n
}
