package core

// This file holds how a task is called: directly, or through task
// middleware — functions that wrap every task (a tracing span, a retry, a
// per-task timeout), each calling the next one and, innermost, the task.
// Without middleware, a task pays one length check.

import (
	"context"
	"errors"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// runOptions are what runTask needs of the engine's configuration.
type runOptions struct {
	pprofLabels bool
	middleware  []Middleware
	panic       func(value any, stack []byte) error // Config.Panic
	panicOf     func(err error) (value any, stack []byte, ok bool)
	now         func() int64 // the engine's clock reading: a task's age
	again       func(t *task, err error, panicked bool) verdict
	strayCtx    atomic.Bool // a middleware's stray context has been logged
}

// Middleware wraps a task: it calls next to run what it wraps (the next
// middleware, innermost the task) any number of times, with a context
// derived from ctx, and returns the task's outcome. See fxasync.Middleware.
type Middleware func(ctx context.Context, t TaskInfo, next func(context.Context) error) error

// chain is one run of a task through its middleware.
type chain struct {
	t    *task
	o    *runOptions
	info TaskInfo
	log  *zap.Logger
}

// wrapped runs the task through the middleware and returns what the
// outermost returned. Not inlined: its chain would sit in runTask's frame,
// on the stack of every task.
//
//go:noinline
func (o *runOptions) wrapped(t *task, log *zap.Logger) error {
	c := &chain{t: t, o: o, log: log, info: TaskInfo{Label: t.label, Age: time.Duration(o.now() - t.start.Load()), Caller: t.caller()}}
	return c.call(0, t)
}

// call runs middleware i, or the task after the last.
func (c *chain) call(i int, ctx context.Context) error {
	if i == len(c.o.middleware) {
		return c.inner(ctx)
	}
	return c.o.middleware[i](ctx, c.info, func(ctx context.Context) error { return c.call(i+1, ctx) })
}

// inner runs the task with ctx, and returns a panic as the error
// Config.Panic makes of it. A context that does not derive from the
// task's, or that dropped its cancellation (context.WithoutCancel), would
// cut the task off from the drain's cancellation and its follow-up rights:
// the task runs with its own instead, and that is logged once per engine.
func (c *chain) inner(ctx context.Context) (err error) {
	if ctx == nil || taskOf(ctx) != c.t || ctx.Done() == nil {
		if ctx != context.Context(c.t) && !c.o.strayCtx.Swap(true) {
			logx.Guard(func() {
				c.log.Error("async task middleware passed a context not derived from the task's; ignored (logged once)",
					zap.String("label", c.t.label))
			})
		}
		ctx = c.t
	}
	returned := false
	defer func() {
		if !returned { // a panic; under runtime.Goexit the error is never read
			err = c.o.panicErr(recover(), debug.Stack())
		}
	}()
	err = call(ctx, c.t, c.o.pprofLabels)
	returned = true
	return err
}

// panicErr is the error next returns for a task that panicked.
func (o *runOptions) panicErr(v any, stack []byte) error {
	if o.panic != nil {
		return o.panic(v, stack)
	}
	return &PanicValue{Value: v, Stack: stack}
}

// classify finds, in what a middleware returned, the task's panic or
// ErrHandedOff, wrapped or not, on a goroutine of its own: err is the
// user's, and its Unwrap methods may panic or call runtime.Goexit.
func (o *runOptions) classify(err error) (v any, stack []byte, panicked, handedOff bool) {
	logx.Isolated(func() {
		if handedOff = errors.Is(err, ErrHandedOff); handedOff {
			return
		}
		if o.panicOf != nil {
			v, stack, panicked = o.panicOf(err)
			return
		}
		var p *PanicValue
		if panicked = errors.As(err, &p); panicked {
			v, stack = p.Value, p.Stack
		}
	})
	return v, stack, panicked, handedOff
}

// PanicValue is a task's panic as an error, when Config.Panic is unset.
type PanicValue struct {
	Value any
	Stack []byte
}

func (p *PanicValue) Error() string { return "panic: " + logx.Value(p.Value) }

// call runs the task's function with ctx, under a pprof label when
// configured, so a goroutine profile groups tasks by label.
func call(ctx context.Context, t *task, pprofLabels bool) error {
	if !pprofLabels {
		return t.fn(ctx)
	}
	return callLabelled(ctx, t)
}

// callLabelled is call under a pprof label. Not inlined: the label set would
// sit in call's frame, on the stack of every task, labelled or not.
//
//go:noinline
func callLabelled(ctx context.Context, t *task) (err error) {
	pprof.Do(ctx, pprof.Labels("fxasync_label", t.label), func(ctx context.Context) { err = t.fn(ctx) })
	return err
}
