package fxasync

// This file holds GoKeyed: tasks of one key run one at a time, in
// submission order; tasks of different keys in parallel.

import (
	"context"
	"fmt"
	"sync"

	"github.com/fxtools/background/internal/core"
)

// keyed is a scheduler's keys with a task running, and what waits behind it.
type keyed struct {
	mu   sync.Mutex
	runs map[keyOf][]keyedTask // the key's queued tasks, behind its running one
}

type keyOf struct{ label, key string }

type keyedTask struct {
	ticket *core.Ticket
	fn     func(context.Context) error
}

// GoKeyed is Go for a task that must not run beside another of its key:
// the tasks of one label and key run one at a time, in the order GoKeyed
// admitted them; tasks of other keys run in parallel. Each waiting task
// holds a pending slot, as a queued one does, so the scheduler's bounds
// bound the keys' queues; a key costs memory only while it has tasks. A
// task's retry (see Retry) does not keep its key: the next task of the key
// starts when an attempt ends, so give such labels no retries when their
// order matters. Under fxasynctest.Inline, keyed tasks still run on
// workers.
func (s *Scheduler) GoKeyed(ctx context.Context, label, key string, fn func(ctx context.Context) error) {
	if s == nil {
		s.Go(ctx, label, fn) // logs that the task is not run
		return
	}
	e := s.engine()
	_ = s.goKeyed(ctx, label, key, fn, callSite(e), true) // a refusal is logged and counted by the engine
}

// TryGoKeyed is GoKeyed that reports a refusal instead of logging it, and
// never blocks, as TryGo.
func (s *Scheduler) TryGoKeyed(ctx context.Context, label, key string, fn func(ctx context.Context) error) error {
	if s == nil {
		return fmt.Errorf("fxasync: nil *Scheduler: %w", ErrClosed)
	}
	e := s.engine()
	if err := s.goKeyed(ctx, label, key, fn, callSite(e), false); err != nil {
		return fmt.Errorf("fxasync: task %q: %w", core.CleanLabel(label), err)
	}
	return nil
}

func (s *Scheduler) goKeyed(ctx context.Context, label, key string, fn func(context.Context) error, pc uintptr, wait bool) error {
	ticket, err := s.e.Admit(ctx, label, fn, pc, wait)
	if err != nil {
		return err
	}
	k := keyOf{core.CleanLabel(label), key}
	s.keyed.mu.Lock()
	queue, running := s.keyed.runs[k]
	if running {
		s.keyed.runs[k] = append(queue, keyedTask{ticket, fn})
		s.keyed.mu.Unlock()
		return nil
	}
	if s.keyed.runs == nil {
		s.keyed.runs = map[keyOf][]keyedTask{}
	}
	s.keyed.runs[k] = nil
	s.keyed.mu.Unlock()
	ticket.Go(nil, s.keyedRun(k, fn))
	return nil
}

// keyedRun is fn, then the key's next task: also when fn panics or calls
// runtime.Goexit.
func (s *Scheduler) keyedRun(k keyOf, fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		defer s.nextKeyed(k)
		return fn(ctx)
	}
}

// nextKeyed queues k's next task, or forgets k when none waits.
func (s *Scheduler) nextKeyed(k keyOf) {
	s.keyed.mu.Lock()
	queue := s.keyed.runs[k]
	if len(queue) == 0 {
		delete(s.keyed.runs, k)
		s.keyed.mu.Unlock()
		return
	}
	next := queue[0]
	queue[0] = keyedTask{}
	s.keyed.runs[k] = queue[1:]
	s.keyed.mu.Unlock()
	next.ticket.Go(nil, s.keyedRun(k, next.fn))
}
