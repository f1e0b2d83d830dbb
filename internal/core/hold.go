package core

// This file holds holds: how a component that keeps accepted work in memory
// (a batcher's buffer) keeps the drain open and gets its work in during it.

import "context"

// A Hold keeps the drain open while it lives; it is not a task, and not
// counted in Pending or Stats.
// Tasks submitted through it take no slot (the holder bounds its own work)
// and are admitted during the drain, as follow-ups of the hold. Take a Hold
// when work arrives, submit the work with Go, Release it when none is left.
type Hold struct {
	e *Engine
	t *task // its context for follow-ups; start is finished once released
}

// Hold returns a Hold for label, or ErrClosed once the drain has begun.
func (e *Engine) Hold(label string) (*Hold, error) {
	label, c := e.labels.get(label)
	e.holdsLive.Add(1) // before the gate counts it: Pending never reads a hold as a task
	if !e.gate.enter() {
		e.holdsLive.Add(-1)
		return nil, ErrClosed
	}
	t := &task{parent: context.Background(), label: label, stats: c}
	t.start.Store(e.now())
	return &Hold{e: e, t: t}, nil
}

// Go runs fn as a task of the hold's label. It is refused, with ErrClosed,
// only after Release or once the drain has given up.
func (h *Hold) Go(fn Func) error {
	e, c := h.e, h.t.stats
	c.submitted.Add(1)
	if fn == nil || !e.followsUp(h.t) || !e.gate.enterFollowUp() {
		c.rejected.Add(1)
		return ErrClosed
	}
	e.push(h.t, h.t.label, c, fn, unslotted, nil)
	return nil
}

// Release lets the drain end without this hold. Later calls do nothing.
func (h *Hold) Release() {
	if h.t.start.Swap(finished) != finished {
		h.e.gate.leave(h.e.now())
		h.e.holdsLive.Add(-1) // after the gate let it go, for the same reason
	}
}

// OnDrain registers f to run when the drain begins, after new work is
// refused and before the drain waits: a batcher flushes there.
func (e *Engine) OnDrain(f func()) {
	e.holds.mu.Lock()
	defer e.holds.mu.Unlock()
	e.holds.onDrain = append(e.holds.onDrain, f)
}

// CountLoss makes the drain's report count label's losses with lost, in the
// holder's unit (a batcher's items, a kind's tasks): what it lost and what
// the keeper kept, instead of the label's running and queued tasks. With
// rejected, the label's refusals since the drain began still count (a
// kind's submissions); without, they are the holder's own business (a
// batcher's writes). Several holders of one label add up.
func (e *Engine) CountLoss(label string, lost func() (items, kept int), rejected bool) {
	label, _ = e.labels.get(label)
	e.holds.mu.Lock()
	defer e.holds.mu.Unlock()
	if e.holds.lossOf == nil {
		e.holds.lossOf = map[string]*holderLoss{}
	}
	h := e.holds.lossOf[label]
	if h == nil {
		h = &holderLoss{}
		e.holds.lossOf[label] = h
	}
	h.funcs = append(h.funcs, lost)
	h.rejected = h.rejected || rejected
}
