package fxasync

// This file holds the retry policy: Retry, Permanent, and their conversion
// into the engine's.

import (
	"time"

	"github.com/fxtools/background/internal/core"
)

// Retry is how failed work is tried again: for tasks, Config.Retry (every
// label) and Config.LabelRetries (the labels it names, a Kind's included);
// for a batcher's writes, BatcherConfig.Retry. A zero field takes the
// default its comment gives.
//
// Contract:
//   - A task that returns an error is tried again after a backoff drawn
//     uniformly from [0, min(MaxBackoff, MinBackoff·2ⁿ⁻¹)] after its n-th
//     failure (full jitter), until MaxAttempts attempts or MaxElapsed since
//     its submission. An error that is Permanent, or that Retryable turns
//     down, is not retried; nor is a panic unless Panics is set, nor
//     runtime.Goexit, nor ErrHandedOff. The task's context and values are
//     the same for every attempt; a middleware wraps each attempt.
//   - A task waiting for its next attempt is a record in one heap of the
//     scheduler, not a goroutine. It keeps its slots and is pending
//     (Pending, Stats, the drain waits for it): the bounds stay the bounds.
//   - Budget: over any stretch of time a label's retries number at most
//     BudgetBurst + Budget × its first attempts, so a dead dependency is hit
//     about 1 + Budget times as hard as a live one. Past the budget a
//     failure ends the task (counted in GaveUp and OverBudget), and one WARN
//     line per label per Config.RejectLogInterval says so.
//   - The drain: when it begins, every task waiting for a retry makes its
//     next attempt at once. A later failure is retried only if its next
//     attempt would start before the drain's bound; otherwise the task ends
//     there, and so does any still waiting at the bound: a Kind's is handed
//     to the Keeper, any other is lost and counted (LabelLoss.Retrying). An
//     attempt the drain's cancellation cut off is not retried and does not
//     count as an attempt. No backoff outlives the drain's bound.
//   - A failure that will be retried is logged at WARN, at most once per
//     label per RejectLogInterval with the count; the last failure at ERROR
//     with the attempts made.
//
// Retry only what is safe to run twice: an attempt whose answer was lost
// (a connection cut at COMMIT) may have done its work. A write made
// idempotent — a unique key and ON CONFLICT DO NOTHING, INSERT OR IGNORE —
// is written once however often it is tried.
type Retry struct {
	// MaxAttempts bounds the attempts, the first included. For tasks the
	// default is 1: no retry (a closure is not known to be safe to run
	// twice). For a batcher's writes it is Unbounded, within MaxElapsed.
	MaxAttempts int
	// MaxElapsed bounds the time from submission (for a batcher, from the
	// first failed write of a run) to the start of the last attempt.
	// Default 1 min for tasks, 2 min for a batcher; Unbounded: none.
	MaxElapsed time.Duration
	// MinBackoff bounds the first backoff. Default 100 ms.
	MinBackoff time.Duration
	// MaxBackoff bounds every backoff. Default 10 s for tasks, 5 s for a
	// batcher.
	MaxBackoff time.Duration
	// Retryable, if set, says whether an error may be retried; it is not
	// asked about Permanent errors. It runs on a goroutine of its own: one
	// that panics means no.
	Retryable func(error) bool
	// Panics retries a task that panicked, as an error (a *PanicError).
	Panics bool
	// Budget is the retries a label may make per first attempt, over time:
	// default 0.1; negative: no budget. Tasks only: a batcher makes one
	// write at a time, so its backoff is its bound.
	Budget float64
	// BudgetBurst is the retries a label may make before its first
	// attempts have earned any, and the most it saves up. Default 10.
	BudgetBurst int
}

// Permanent marks err as one that no retry can help (a row the store
// refuses, a request it will never accept): a task or a write that returns
// it, wrapped or not, is not tried again. The result wraps err; Permanent
// of nil is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &core.PermanentError{Err: err}
}

// policy converts r into the engine's, with the defaults of where it is set.
func (r Retry) policy() core.RetryPolicy {
	return core.RetryPolicy{MaxAttempts: r.MaxAttempts, MaxElapsed: r.MaxElapsed, MinBackoff: r.MinBackoff,
		MaxBackoff: r.MaxBackoff, Panics: r.Panics, Retryable: r.Retryable, Budget: r.Budget, BudgetBurst: r.BudgetBurst}
}

// Defaults of a batcher's Retry.
const (
	defaultBatchMaxElapsed = 2 * time.Minute
	defaultBatchMaxBackoff = 5 * time.Second
)

// batchPolicy is r for a batcher's writes: retried by default.
func (r Retry) batchPolicy() core.RetryPolicy {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = Unbounded
	}
	if r.MaxElapsed == 0 {
		r.MaxElapsed = defaultBatchMaxElapsed
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = defaultBatchMaxBackoff
	}
	return r.policy().Resolve()
}

func labelRetries(m map[string]Retry) map[string]core.RetryPolicy {
	if m == nil {
		return nil
	}
	out := make(map[string]core.RetryPolicy, len(m))
	for label, r := range m {
		out[label] = r.policy()
	}
	return out
}
