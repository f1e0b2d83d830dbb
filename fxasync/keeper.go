package fxasync

// This file holds the Keeper seam: what a stop leaves unfinished of the
// work of Kinds and keeping batchers goes to the Keeper, which says how
// much it kept; the drain's report counts kept and lost.

import (
	"context"
	"errors"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// A Keeper keeps the work a stop leaves unfinished, so that it runs later:
// after a restart, or on another replica (fxasyncriver keeps it in River's
// table). Set it as Config.Keeper; the scheduler calls it at the end of
// the drain, for the work of each Kind and of each batcher with
// BatcherConfig.Keep that did not finish: tasks never started, tasks cut
// off by the drain's bound (they returned after its cancellation, or still
// run), and items not written.
//
// Contract, which the conformance suite fxasync/keepertest checks:
//   - Keep stores items, the unfinished work of kind (a Kind's name, a
//     batcher's label; each item is a value the Kind or the Batcher was
//     given), and returns how many it stored. kept counts items that will
//     run later, and no others: the rest are lost, and err says why. An
//     item it cannot store (its type, its encoding) costs that item only.
//   - Keep returns by the end of ctx (Config.KeepTimeout, within the
//     drain's bound); a call still running then is abandoned, and all its
//     items counted lost.
//   - Keep may be called concurrently, once for each kind; it must not
//     call the scheduler (the drain is ending).
//   - What is kept is at least once: a task still running at the bound
//     (it ignored its context) is kept and may yet finish.
type Keeper interface {
	Keep(ctx context.Context, kind string, items []any) (kept int, err error)
}

// A RetryKeeper is a Keeper that keeps retry state too: a Kind's task
// whose retries the drain's bound cut short reaches its Keep as a *Retried
// — the value, the attempts it made, when its next attempt was due — so
// that it runs then, with the attempts it has left (fxasyncriver: a job
// scheduled at NotBefore). A Keeper that is not one gets the bare values.
type RetryKeeper interface {
	Keeper
	// KeepsRetryState marks the Keeper; it is never called.
	KeepsRetryState()
}

// Retried is a Kind's unfinished work whose retries the drain cut short,
// as a RetryKeeper receives it.
type Retried struct {
	Value     any       // what the Kind was given
	Attempts  int       // attempts made and counted (one the drain's cancellation cut off is not)
	NotBefore time.Time // when its next attempt was due
}

// defaultKeepTimeout is Config.KeepTimeout's default.
const defaultKeepTimeout = time.Second

// keepable is a Kind's or a batcher's unfinished work, for the keep.
type keepable struct {
	kind   string
	take   func() []any         // once, after the drain: the unfinished work
	settle func(kept, lost int) // what became of it
}

func (s *Scheduler) addKeepable(k keepable) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keepables = append(s.keepables, k)
}

// drainAndKeep drains, leaving the keep its time within ctx's deadline,
// then hands what is unfinished to the Keeper.
func (s *Scheduler) drainAndKeep(ctx context.Context) error {
	e := s.engine()
	if s.keeper == nil {
		return drainError(e.Drain(ctx))
	}
	ectx, cancel := reserve(ctx, s.keepTimeout)
	err := e.Drain(ectx)
	cancel()
	s.keep(ctx)
	err = drainError(err)
	if de, ok := err.(*DrainError); ok {
		de.Lost = s.LastDrain().Lost // with what was kept
	}
	return err
}

// reserve returns ctx ending d (at most a third of its time left) before
// its deadline: the rest is the keep's.
func reserve(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-min(d, time.Until(deadline)/3)))
}

// keep hands each kind's unfinished work to the Keeper, all kinds at once,
// within KeepTimeout, and logs what it kept and lost.
func (s *Scheduler) keep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.keepTimeout)
	defer cancel()
	s.mu.Lock()
	ks := append([]keepable(nil), s.keepables...)
	s.mu.Unlock()
	done := make(chan struct{}, len(ks))
	for _, k := range ks {
		go func() {
			defer func() { done <- struct{}{} }()
			s.keepKind(ctx, k)
		}()
	}
	for range ks {
		<-done
	}
}

// keepGrace is how long past the keep's context a Keeper may take to
// return before its call is abandoned.
const keepGrace = 50 * time.Millisecond

func (s *Scheduler) keepKind(ctx context.Context, k keepable) {
	items := k.take()
	if len(items) == 0 {
		return
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		var r result
		defer func() { res <- r }()
		how := logx.Isolated(func() { r.n, r.err = s.keeper.Keep(ctx, k.kind, items) })
		if how != "" {
			r = result{0, errors.New("Keep " + how)}
		}
	}()
	var r result
	select {
	case r = <-res:
	case <-time.After(time.Until(deadlineOf(ctx)) + keepGrace):
		r = result{0, errors.New("Keep did not return in time: abandoned")}
	}
	n := min(max(r.n, 0), len(items))
	k.settle(n, len(items)-n)
	s.logKeep(k.kind, n, len(items)-n, r.err)
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline() // keep gave it one
	return d
}

func (s *Scheduler) logKeep(kind string, kept, lost int, err error) {
	log := s.engine().Config().Logger
	logx.Guard(func() {
		fields := []zap.Field{zap.String("kind", kind), zap.Int("kept", kept), zap.Int("lost", lost)}
		if err != nil {
			msg, _ := logx.Error(err)
			fields = append(fields, zap.String("error", msg))
		}
		if lost > 0 {
			log.Warn("unfinished async work not kept", fields...)
			return
		}
		log.Info("unfinished async work kept", fields...)
	})
}
