package fxshutdown

// This file holds the Shutdown: the registry of steps, their order and
// bounds, and the summary.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/budget"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// defaultStepTimeout bounds a step when neither Config nor Step does.
const defaultStepTimeout = 5 * time.Second

// summaryMargin is kept from the stop budget for the summary hook.
const summaryMargin = 10 * time.Millisecond

// Shutdown is the ordered list of named stop steps. With fx it comes from
// Module and each Add appends an OnStop hook; without fx, make one with New
// and call Stop. It is safe for concurrent use. Each step runs at most once,
// however many times Stop is called and whether fx or Stop runs it.
type Shutdown struct {
	log   *zap.Logger
	cfg   Config
	lc    fx.Lifecycle // nil without fx
	ready *Readiness

	appStarted atomic.Bool // with fx: hooks appended from now on never run
	// underRun: Run stops the app and reads the outcomes itself, so the
	// summary hook returns no error for a stop that only lost work.
	underRun atomic.Bool
	stopMu   sync.Mutex // one Stop at a time

	mu       sync.Mutex
	steps    []*step   // in registration order
	done     []Outcome // in run order
	started  time.Time
	reported bool
}

// New returns a Shutdown for use without fx. Zero Config fields take the
// defaults.
func New(cfg Config) *Shutdown {
	log := cfg.Logger
	if log == nil {
		log = logx.FromSlog(cfg.Slog)
	}
	if log == nil {
		log = logx.Stderr(zapcore.InfoLevel)
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = defaultStepTimeout
	}
	return &Shutdown{log: log.Named("shutdown"), cfg: cfg, ready: &Readiness{}}
}

// Readiness is the application's readiness state, dropped when stop begins.
func (s *Shutdown) Readiness() *Readiness { return s.ready }

// Add registers a named step. Steps run in the reverse order of Add: register
// a resource's step in the constructor that builds it, and it stops after
// everything built later, as fx hooks do. With fx, Add must be called before
// the application starts (fx never stops a hook appended later): a late Add
// is logged at ERROR and ignored. Run gets a context that ends at the
// step's bound; a step still running then is abandoned, its error wraps
// ErrStepTimeout, and the next step runs. A step without Run is logged and
// ignored.
func (s *Shutdown) Add(step Step) {
	name := step.Name
	if step.Run == nil {
		s.log.Error("shutdown step has no function; ignored", zap.String("step", name))
		return
	}
	st := newStep(step, s.cfg.StepTimeout)
	if s.lc != nil && s.appStarted.Load() {
		s.log.Error("shutdown step added after the application started; fx will not run it: add steps in constructors",
			zap.String("step", name))
		return
	}
	s.mu.Lock()
	s.steps = append(s.steps, st)
	i := len(s.steps) - 1
	s.mu.Unlock()
	if s.lc != nil {
		s.lc.Append(fx.StopHook(func(ctx context.Context) { s.runStep(ctx, i) }))
	}
}

// Stop runs every step not yet run, last registered first, then logs the
// summary. It returns the steps' errors joined, each prefixed with its name.
// Use it without fx; with fx the lifecycle runs the steps. Concurrent calls
// wait for each other; no step runs twice.
func (s *Shutdown) Stop(ctx context.Context) error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	s.mu.Lock()
	n := len(s.steps)
	s.mu.Unlock()
	for i := n - 1; i >= 0; i-- {
		s.runStep(ctx, i)
	}
	return s.summary(ctx)
}

// runStep runs step i unless it has run.
func (s *Shutdown) runStep(ctx context.Context, i int) {
	s.ready.SetNotReady()
	s.mu.Lock()
	st := s.steps[i]
	if st.claimed {
		s.mu.Unlock()
		return
	}
	st.claimed = true
	if s.started.IsZero() {
		s.started = time.Now()
	}
	bound := s.bound(ctx, i)
	s.mu.Unlock()
	out := st.run(ctx, bound, s.log)
	s.mu.Lock()
	s.done = append(s.done, out)
	st.ended = true
	s.mu.Unlock()
}

// pending sums what the steps that have not ended have in hand.
func (s *Shutdown) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.steps {
		if !st.ended && st.pending != nil {
			n += st.pending()
		}
	}
	return n
}

// bound is step i's time, by the budget rule: its own timeout, but never
// what the steps after it (those registered before it) are owed. Called
// under mu.
func (s *Shutdown) bound(ctx context.Context, i int) time.Duration {
	own := s.steps[i].timeout
	deadline, ok := ctx.Deadline()
	if !ok {
		return own
	}
	left := time.Until(deadline) - summaryMargin
	after := make([]time.Duration, 0, i)
	for _, later := range s.steps[:i] {
		if !later.claimed {
			after = append(after, later.timeout)
		}
	}
	return budget.Of(left, own, budget.Reserve(left, after))
}

// summary logs one line with every step's outcome, once, writes the
// termination message outside the lock, and returns the steps' errors:
// none under Run when every error only reports lost work, so fx does not
// log the loss twice more ("OnStop hook failed", "stop failed").
func (s *Shutdown) summary(ctx context.Context) error {
	s.mu.Lock()
	var errs []error
	lost, failed := 0, false
	for _, o := range s.done {
		if o.Err != nil {
			errs = append(errs, &namedError{o.Name, o.Err})
			n := lostBy(o.Err)
			lost += n
			failed = failed || n == 0
		}
	}
	first := !s.reported
	s.reported = true
	done := append([]Outcome(nil), s.done...)
	started := s.started
	s.mu.Unlock()
	if first {
		total := time.Duration(0)
		if !started.IsZero() {
			total = time.Since(started)
		}
		log := s.log.Info
		if len(errs) > 0 { // the one ERROR of a stop that failed or lost work
			log = s.log.Error
		}
		log("shutdown finished", zap.Duration("total", total), zap.Int("failed", len(errs)),
			zap.Int("lost", lost), zap.Array("steps", outcomes(done)))
		s.writeTermination(ctx, terminationMessage(total, len(errs), lost, done))
	}
	if !failed && s.underRun.Load() {
		return nil // the summary said it at ERROR; Run exits with ExitLost
	}
	return errors.Join(errs...)
}

// Outcomes returns how each step that has run ended, in run order.
func (s *Shutdown) Outcomes() []Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Outcome(nil), s.done...)
}

type outcomes []Outcome

func (outs outcomes) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, line := range outs.lines() {
		enc.AppendString(line)
	}
	return nil
}

// lines are the summary's step outcomes: "name: result in duration".
func (outs outcomes) lines() []string {
	out := make([]string, 0, len(outs))
	for _, o := range outs {
		result := "ok"
		switch n := lostBy(o.Err); {
		case n > 0:
			result = fmt.Sprintf("lost %d (%s)", n, logx.Value(o.Err))
		case o.Err != nil:
			result = logx.Value(o.Err) // bounded; an Error() that panics cannot crash the stop
		}
		if o.Note != "" {
			result += " (" + o.Note + ")"
		}
		out = append(out, fmt.Sprintf("%s: %s in %v", logx.Value(o.Name), result, o.Duration.Round(time.Microsecond)))
	}
	return out
}

// namedError is a step's error prefixed with its name. It renders the error
// with logx, not fmt: a step's Error() may panic or call runtime.Goexit.
type namedError struct {
	step string
	err  error
}

func (e *namedError) Error() string { return e.step + ": " + logx.Value(e.err) }
func (e *namedError) Unwrap() error { return e.err }
