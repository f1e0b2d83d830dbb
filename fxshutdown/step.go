package fxshutdown

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ErrStepTimeout is wrapped by the error of a step that overran its bound.
var ErrStepTimeout = errors.New("step overran its bound and was abandoned")

// A StepOption configures one step.
type StepOption interface{ applyStep(*step) }

type timeoutOption time.Duration

func (o timeoutOption) applyStep(s *step) { s.timeout = time.Duration(o) }

// WithTimeout bounds one step, overriding Config.StepTimeout.
func WithTimeout(d time.Duration) StepOption { return timeoutOption(d) }

type step struct {
	name    string
	fn      func(context.Context) error
	timeout time.Duration
}

// Outcome is how one step ended.
type Outcome struct {
	Name     string
	Bound    time.Duration // the time it was given
	Duration time.Duration
	Err      error // nil, the step's error, or one wrapping ErrStepTimeout
}

// run calls the step on its own goroutine so that a step that ignores its
// context is abandoned at the bound instead of holding up the next one.
func (st *step) run(ctx context.Context, bound time.Duration, log *zap.Logger) Outcome {
	log.Info("shutdown step started", zap.String("step", st.name), zap.Duration("bound", bound))
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- callStep(ctx, st.fn) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("%w after %v", ErrStepTimeout, bound)
	}
	out := Outcome{Name: st.name, Bound: bound, Duration: time.Since(start), Err: err}
	switch {
	case errors.Is(err, ErrStepTimeout):
		log.Error("shutdown step abandoned", zap.String("step", st.name), zap.Duration("took", out.Duration), zap.Error(err))
	case err != nil:
		log.Error("shutdown step failed", zap.String("step", st.name), zap.Duration("took", out.Duration), zap.Error(err))
	default:
		log.Info("shutdown step done", zap.String("step", st.name), zap.Duration("took", out.Duration))
	}
	return out
}

// callStep turns a panic in a step into its error.
func callStep(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step panicked: %v", r)
		}
	}()
	return fn(ctx)
}
