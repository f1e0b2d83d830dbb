package core

// This file decides, when a task's attempt fails, whether it is tried again
// and when, within its label's policy and budget and the drain's bound; the
// task then waits in the heap (wait.go).

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// verdict is what becomes of a failed attempt.
type verdict uint8

const (
	settle  verdict = iota // the task ends with its attempt's outcome
	retry                  // it waits for its next attempt
	handOff                // the drain cut its retries short and a keeper takes its work
	lost                   // the drain cut its retries short: counted failed and lost
)

// retrier makes the decision and holds the waiting tasks.
type retrier struct {
	waits    waits
	stop     context.Context // the engine's stop context: cancelled, no attempt is retried
	cutMu    sync.Mutex      // a task lost to the drain is counted failed and lost at once
	bound    atomic.Int64    // clock reading of the drain's bound once it began; 0 before
	log      *zap.Logger
	interval time.Duration // Config.RejectLogInterval: one line per label per interval
}

// again decides for t, whose attempt failed with err (or panicked), and
// counts what it decides. A hold's tasks (a batcher's writes, which retry
// on their own) are never retried here; nor is an attempt the drain's
// cancellation cut off: it does not count as an attempt.
func (r *retrier) again(t *task, err error, panicked bool) verdict {
	lr := t.stats.retry
	if lr == nil || t.pc == unslotted || (panicked && !lr.p.Panics) {
		return settle
	}
	if t.ext == nil {
		t.ext = &taskExt{}
	}
	x := t.ext
	if r.stop.Err() != nil { // the drain's cancellation cut it off: not an attempt
		if !x.retryable(lr, err) {
			return settle
		}
		x.due = r.waits.now() // to be tried again at once
		return r.cut(t)
	}
	x.attempts++
	if !x.retryable(lr, err) {
		return settle
	}
	now := r.waits.now()
	wait := lr.p.Backoff(int(x.attempts))
	switch {
	case lr.p.MaxAttempts != Unbounded && int(x.attempts) >= lr.p.MaxAttempts,
		lr.p.MaxElapsed != Unbounded && now+int64(wait)-t.start.Load() > int64(lr.p.MaxElapsed):
		t.stats.gaveUp.Add(1)
		return settle
	case r.pastBound(now + int64(wait)):
		x.due = now + int64(wait)
		return r.cut(t)
	case !lr.spend(t.stats.submitted.Load() - t.stats.rejected.Load()):
		t.stats.gaveUp.Add(1)
		t.stats.overBudget.Add(1)
		r.logOverBudget(t, lr, now)
		return settle
	}
	t.stats.retries.Add(1)
	x.waiting, x.due = true, now+int64(wait)
	r.logRetry(t, lr, err, wait, now)
	return retry
}

// retryable classifies err for lr's policy on this goroutine, marking x
// meanwhile: if the user's error calls runtime.Goexit, finish counts it.
func (x *taskExt) retryable(lr *labelRetry, err error) bool {
	x.classifying = true
	ok := lr.p.retryableHere(err)
	x.classifying = false
	return ok
}

// cut counts a task whose retries the drain ends: handed off if it keeps,
// else failed and lost, both at once for the drain's count (see
// Engine.unfinished).
func (r *retrier) cut(t *task) verdict {
	t.stats.gaveUp.Add(1)
	if t.keeps() {
		return handOff
	}
	r.cutMu.Lock()
	t.stats.failed.Add(1)
	t.stats.lostRetry.Add(1)
	r.cutMu.Unlock()
	return lost
}

// pastBound reports whether an attempt at clock reading at would start
// after the drain's bound, once the drain has begun.
func (r *retrier) pastBound(at int64) bool {
	b := r.bound.Load()
	return b != 0 && at >= b
}

// logRetry logs a failed attempt that will be retried at WARN, at most
// once per label per interval, with how many retries were decided since.
func (r *retrier) logRetry(t *task, lr *labelRetry, err error, wait time.Duration, now int64) {
	ok, n := lr.tick(&lr.retrying, now, r.interval)
	if !ok {
		return
	}
	msg, _ := logx.Error(err)
	logx.Guard(func() {
		r.log.Warn("async task failed; retrying", zap.String("label", t.label), zap.String("error", msg),
			zap.Int32("attempt", t.ext.attempts), zap.Duration("backoff", wait), zap.Int64("retries", n),
			zap.Duration("interval", r.interval))
	})
}

// logOverBudget says, once per label per interval, that the label's retry
// budget is spent and how many failures it turned down since.
func (r *retrier) logOverBudget(t *task, lr *labelRetry, now int64) {
	ok, n := lr.tick(&lr.refusing, now, r.interval)
	if !ok {
		return
	}
	logx.Guard(func() {
		r.log.Warn("async task retry budget exhausted: failures end without a retry", zap.String("label", t.label),
			zap.Int64("refused", n), zap.Float64("budget", lr.p.Budget), zap.Int("burst", lr.p.BudgetBurst),
			zap.Duration("interval", r.interval))
	})
}

// drainBegan sets the bound and runs every waiting task's next attempt at
// once: the bound allows it now if ever.
func (r *retrier) drainBegan(bound int64) {
	r.bound.Store(max(bound, 1))
	for _, t := range r.waits.takeAll(false) {
		r.waits.run(t)
	}
}

// gaveUp takes the tasks still waiting when the drain gave up; from then
// on nothing waits.
func (r *retrier) gaveUp() []*task { return r.waits.takeAll(true) }
