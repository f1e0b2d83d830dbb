package core

// This file holds tickets: submissions admitted now and queued later, for
// work that must wait its turn (a key's next task, a key's newest value).

import "context"

// A Ticket is a submission that has passed admission — counted submitted,
// holding its slots, keeping the drain open — and is not queued yet. Go
// queues it, or Coalesce ends it unrun: exactly one of them, once.
type Ticket struct {
	e *Engine
	t *task
}

// Admit admits a submission of label as Go would (waiting for room when
// wait), without queueing it. fn is only checked for nil: Go gives the
// function to run.
func (e *Engine) Admit(ctx context.Context, label string, fn Func, pc uintptr, wait bool) (*Ticket, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	label, c := e.labels.get(label)
	err := e.admit(ctx, c, fn, wait)
	c.submitted.Add(1)
	if err != nil {
		c.rejected.Add(1)
		if wait {
			e.logRejected(label, c, err)
		}
		return nil, err
	}
	return &Ticket{e: e, t: e.newTask(ctx, label, c, nil, pc, nil)}, nil
}

// Go queues the ticket's task with fn and, when not nil, ctx as its
// context's parent (the submission that replaced the admitted one); its age
// counts from admission.
func (k *Ticket) Go(ctx context.Context, fn Func) {
	if ctx != nil {
		k.t.parent = ctx
	}
	k.t.fn = fn
	k.e.pool.push(k.t)
}

// Coalesce ends the ticket unrun, counted coalesced: a newer submission
// does its work.
func (k *Ticket) Coalesce() {
	k.t.stats.coalesced.Add(1)
	k.e.limits.release(&k.t.stats.slots)
	k.t.start.Store(finished)
	k.e.gate.leave(k.e.now())
}

// Coalesced counts a submission of label that replaced an admitted one
// still waiting (a key's newest value): submitted and, for the one
// replaced, coalesced; nothing pending changes. Once the drain has begun
// it is refused, unless ctx is a task's (a follow-up), as Go would refuse.
func (e *Engine) Coalesced(ctx context.Context, label string) error {
	label, c := e.labels.get(label)
	c.submitted.Add(1)
	if e.refusing(ctx) {
		c.rejected.Add(1)
		e.logRejected(label, c, ErrClosed)
		return ErrClosed
	}
	c.coalesced.Add(1)
	return nil
}

// refusing reports whether a submission from ctx would be refused now
// because the drain has begun.
func (e *Engine) refusing(ctx context.Context) bool {
	select {
	case <-e.gate.draining:
		return ctx == nil || !e.followsUp(ctx)
	default:
		return false
	}
}
