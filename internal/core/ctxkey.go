package core

// This file finds package context's private key for cancel contexts.

import (
	"context"
	"errors"
)

// cancelCtxKey is the key that package context looks up, through Value, to
// find the *cancelCtx behind a context (in context.Cause and when a child
// context is derived). The key is unexported there, so it is read once here by
// handing context.Cause a probe that records the key it is asked for.
//
// A task answers that key with the engine's own cancel context, whose Done
// channel the task shares. The trade-off: this leans on how package context
// works inside, in exchange for context.Cause reporting the drain's cause
// instead of the request's, and for contexts derived inside a task costing no
// goroutine. If a Go release changes that, cancelCtxFound is false, the
// lookup falls through to the submitter's context (correct, but a goroutine
// per derived context and the request's cause), and TestCancelCtxKeyFound
// fails, so we learn it from CI, not from users.
var cancelCtxKey, cancelCtxFound = probeCancelCtxKey()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Err() error { return errProbe }

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

var errProbe = errors.New("probe")

func probeCancelCtxKey() (any, bool) {
	p := &keyProbe{Context: context.Background()}
	_ = context.Cause(p)
	if p.key == nil {
		return &p.key, false // a key no caller can pass: the lookup falls through
	}
	return p.key, true
}
