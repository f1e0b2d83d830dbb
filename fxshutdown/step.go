package fxshutdown

// This file holds one step: its settings, its bounded run and its outcome.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// ErrStepTimeout is wrapped by the error of a step that overran its bound.
var ErrStepTimeout = errors.New("step overran its bound and was abandoned")

// ErrStepGoexit is the error of a step that called runtime.Goexit.
var ErrStepGoexit = errors.New("step called runtime.Goexit")

// Step is one named stop step, for Shutdown.Add.
type Step struct {
	// Name names the step in the log, the plan and the summary.
	Name string
	// Run stops what the step owns; its context ends at the step's bound.
	Run func(ctx context.Context) error
	// Timeout bounds the step. Default Config.StepTimeout.
	Timeout time.Duration
	// Pending, if set, tells how much work the step has in hand (a drain's
	// pending tasks): a forced exit on a second signal logs what it dropped.
	Pending func() int
}

func newStep(s Step, timeout time.Duration) *step {
	if s.Timeout > 0 {
		timeout = s.Timeout
	}
	return &step{name: s.Name, fn: s.Run, timeout: timeout, pending: s.Pending}
}

type step struct {
	name     string
	fn       func(context.Context) error
	timeout  time.Duration
	pending  func() int // nil: nothing to report
	claimed  bool       // it has run or is running; under Shutdown.mu
	ended    bool       // its outcome is in; under Shutdown.mu
	timedOut bool       // abandoned at its bound; written by run, before ended
}

// LossError is implemented by a step's error that reports lost work, such
// as fxasync's *LostError: the summary says "lost N" for the step, and Run
// exits with ExitLost.
type LossError interface {
	error
	LostTotal() int
}

// lostBy returns how much err says was lost, or 0. It is guarded: a step's
// error is the user's, and its Unwrap, As or LostTotal may panic.
func lostBy(err error) (n int) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	var le LossError
	if errors.As(err, &le) {
		return max(le.LostTotal(), 0)
	}
	return 0
}

// Outcome is how one step ended.
type Outcome struct {
	Name     string
	Bound    time.Duration // the time it was given
	Duration time.Duration
	Err      error  // nil, the step's error, or one wrapping ErrStepTimeout
	Note     string // what the step said of its result with Note, if anything
}

// maxNote bounds a note, in bytes.
const maxNote = 256

// noteKey is the context key of a running step's note.
type noteKey struct{}

// stepNote holds a step's note; an abandoned step may still write it.
type stepNote struct {
	mu sync.Mutex
	s  string
}

func (n *stepNote) get() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s
}

// Note records a short result of the step running with ctx, which the
// summary shows after the step's outcome — "name: ok (note) in 3ms" — for
// what a step did besides succeeding or losing work, such as "handed off 12
// task(s) to River". A later call replaces the note; outside a step, Note
// does nothing. Notes are cut to 256 bytes of valid UTF-8.
func Note(ctx context.Context, note string) {
	if n, ok := ctx.Value(noteKey{}).(*stepNote); ok {
		note = strings.ToValidUTF8(note, "\uFFFD")
		for len(note) > maxNote {
			_, size := utf8.DecodeLastRuneInString(note)
			note = note[:len(note)-size]
		}
		n.mu.Lock()
		n.s = note
		n.mu.Unlock()
	}
}

// run calls the step on its own goroutine so that a step that ignores its
// context is abandoned at the bound instead of holding up the next one. A
// step that returned by the time the bound is noticed is taken at its word.
func (st *step) run(ctx context.Context, bound time.Duration, log *zap.Logger) Outcome {
	log.Info("shutdown step started", zap.String("step", st.name), zap.Duration("bound", bound))
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	note := &stepNote{}
	ctx = context.WithValue(ctx, noteKey{}, note)
	done := make(chan error, 1)
	go callStep(ctx, st.fn, done)
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		default:
			err, st.timedOut = fmt.Errorf("%w after %v", ErrStepTimeout, bound), true
		}
	}
	out := Outcome{Name: st.name, Bound: bound, Duration: time.Since(start), Err: err, Note: note.get()}
	st.log(out, log)
	return out
}

func (st *step) log(out Outcome, log *zap.Logger) {
	// The error is rendered by logx, not zap.Error: a step's Error() may
	// panic or call runtime.Goexit, which zap would run on the stop's own
	// goroutine.
	switch n := lostBy(out.Err); {
	case n > 0: // the summary logs the loss at ERROR, once
		log.Warn("shutdown step lost work", zap.String("step", st.name), zap.Duration("took", out.Duration),
			zap.Int("lost", n), zap.String("error", logx.Value(out.Err)))
	case out.Err != nil && st.timedOut:
		log.Error("shutdown step abandoned", zap.String("step", st.name), zap.Duration("took", out.Duration),
			zap.String("error", logx.Value(out.Err)))
	case out.Err != nil:
		log.Error("shutdown step failed", zap.String("step", st.name), zap.Duration("took", out.Duration),
			zap.String("error", logx.Value(out.Err)))
	default:
		log.Info("shutdown step done", zap.String("step", st.name), zap.Duration("took", out.Duration))
	}
}

// callStep sends how fn ended: its error, its panic as an error, or
// ErrStepGoexit, at once in every case.
func callStep(ctx context.Context, fn func(context.Context) error, done chan<- error) {
	returned, recovered := false, false
	var err error
	defer func() {
		if !returned && !recovered {
			err = ErrStepGoexit
		}
		done <- err
	}()
	func() {
		defer func() {
			if !returned {
				err = fmt.Errorf("step panicked: %s", logx.Value(recover()))
			}
		}()
		err = fn(ctx)
		returned = true
	}()
	recovered = !returned
}
