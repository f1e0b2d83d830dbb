package core

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
// channel the task shares. Without this, the lookup would fall through to the
// caller's context: context.Cause would report the request's cause instead of
// the drain's, and every context derived inside a task would cost a goroutine.
var cancelCtxKey = probeCancelCtxKey()

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

func probeCancelCtxKey() any {
	p := &keyProbe{Context: context.Background()}
	_ = context.Cause(p)
	if p.key == nil {
		return &p.key // a key no caller can pass: the lookup falls through
	}
	return p.key
}
