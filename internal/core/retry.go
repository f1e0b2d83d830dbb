package core

// This file holds the retry policy of a label: whether a failed attempt is
// tried again, after how long (exponential backoff, full jitter), and the
// label's retry budget. Where the waiting tasks wait is wait.go.

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fxtools/background/internal/logx"
)

// Backoff is how long to wait before attempt n+1, n ≥ 1 attempts having
// failed: a uniform draw in [0, min(MaxBackoff, MinBackoff·2ⁿ⁻¹)] (full
// jitter: replicas that failed together do not retry together).
func (p RetryPolicy) Backoff(n int) time.Duration {
	ceil := p.MaxBackoff
	if shift := n - 1; shift < 62 && p.MinBackoff<<shift > 0 && p.MinBackoff<<shift < ceil {
		ceil = p.MinBackoff << shift
	}
	if ceil == math.MaxInt64 {
		return time.Duration(rand.Int64N(int64(ceil))) // +1 would overflow
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// PermanentError marks an error that is never retried (fxasync.Permanent).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "permanent error"
	}
	return e.Err.Error()
}
func (e *PermanentError) Unwrap() error { return e.Err }

// IsRetryable reports whether err may be retried under p: not a Permanent
// one, and what p.Retryable says. err and Retryable are the user's: they
// run on a goroutine of their own, and one that panics means no.
func (p RetryPolicy) IsRetryable(err error) bool {
	ok := false
	if how := logx.Isolated(func() { ok = p.classify(err) }); how != "" {
		return false
	}
	return ok
}

// retryableHere is IsRetryable on the calling goroutine, a goroutine's
// start cheaper: a panic means no; a runtime.Goexit ends the goroutine, so
// the caller must make that end count (the engine's finish does, see
// taskExt.classifying). Under a flood of failures the goroutine per
// failure doubled another label's p99 start latency.
func (p RetryPolicy) retryableHere(err error) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return p.classify(err)
}

func (p RetryPolicy) classify(err error) bool {
	var perm *PermanentError
	if errors.As(err, &perm) || errors.Is(err, ErrHandedOff) {
		return false
	}
	return p.Retryable == nil || p.Retryable(err)
}

// labelRetry is one label's policy and budget. The budget is a token
// bucket: each first attempt earns Budget tokens, up to BudgetBurst; each
// retry spends one. So over any stretch of time retries number at most
// BudgetBurst + Budget × first attempts, and a dead dependency is hit
// about 1 + Budget times as hard as a live one, not MaxAttempts times.
// First attempts are credited lazily, from the label's admissions, when a
// retry asks: the bucket costs a task that does not fail nothing.
type labelRetry struct {
	p RetryPolicy

	mu       sync.Mutex
	tokens   float64
	credited int64 // admissions credited so far
	retrying every // "retrying" lines
	refusing every // "budget exhausted" lines
}

func newLabelRetry(p RetryPolicy) *labelRetry {
	if !p.Retries() {
		return nil
	}
	return &labelRetry{p: p, tokens: float64(p.BudgetBurst)}
}

// spend takes a retry's token, crediting the admissions since the last
// call, or says no.
func (lr *labelRetry) spend(admitted int64) bool {
	if lr.p.Budget == Unbounded {
		return true
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if n := admitted - lr.credited; n > 0 {
		lr.tokens = min(lr.tokens+float64(n)*lr.p.Budget, float64(lr.p.BudgetBurst))
		lr.credited = admitted
	}
	if lr.tokens < 1 {
		return false
	}
	lr.tokens--
	return true
}

// tick counts one event of ev and reports whether a line is due at now,
// one per interval, with the events since the last line.
func (lr *labelRetry) tick(ev *every, now int64, interval time.Duration) (bool, int64) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	ev.n++
	if ev.last != 0 && now-ev.last < int64(interval) {
		return false, 0
	}
	ev.last = max(now, 1)
	n := ev.n
	ev.n = 0
	return true, n
}

// every is one kind of rate-limited line: when the last was, and how many
// events since.
type every struct{ last, n int64 }
