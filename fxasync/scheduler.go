package fxasync

// This file holds the Scheduler and its methods for submitting and draining.

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/fxtools/background/internal/core"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Placeholders under which Stats records labels. A task whose label equals
// one is counted with it.
const (
	// UnlabeledLabel stands for the empty label.
	UnlabeledLabel = core.UnlabeledLabel
	// OverflowLabel collects every label past Config.MaxLabels.
	OverflowLabel = core.OverflowLabel
)

// MaxLabelBytes bounds a label: longer ones are cut at a rune boundary, and
// bytes that are not valid UTF-8 become U+FFFD, once, at submission.
const MaxLabelBytes = core.MaxLabelBytes

var (
	// ErrClosed is returned by TryGo, wrapped, when the scheduler is draining or
	// has drained and the submission does not come from one of its tasks.
	ErrClosed = core.ErrClosed
	// ErrFull is returned, wrapped, by TryGo (at once) and Go (after its
	// wait) when every slot of the task's label or of the scheduler is taken,
	// and by a Batcher with no room.
	ErrFull = core.ErrFull
	// ErrNilFunc is returned by TryGo when fn is nil.
	ErrNilFunc = core.ErrNilFunc
	// ErrHandedOff is what a task returns when the drain's bound cut it off
	// and its work is kept elsewhere (a durable job that runs later): it is
	// counted as handed off (LabelStats.HandedOff), not as failed, and not
	// logged. A Kind's tasks return it for the Keeper.
	ErrHandedOff = core.ErrHandedOff
)

// A Scheduler runs labelled background tasks and waits for them on Drain. It
// is safe for concurrent use. The zero Scheduler is usable, with the defaults;
// a nil *Scheduler refuses every task.
type Scheduler struct {
	once        sync.Once
	e           *core.Engine
	keeper      Keeper
	keepTimeout time.Duration

	drainOnce sync.Once
	drainErr  error

	mu        sync.Mutex
	batchers  []batcherOf
	flushers  []flusher // the batchers and the Coalescers
	keepables []keepable

	keyed keyed // GoKeyed's keys
}

// New returns a Scheduler configured by cfg.
func New(cfg Config) *Scheduler {
	s := &Scheduler{e: core.New(cfg.engine()), keeper: cfg.Keeper, keepTimeout: cfg.KeepTimeout}
	if s.keepTimeout <= 0 {
		s.keepTimeout = defaultKeepTimeout
	}
	return s
}

func (s *Scheduler) engine() *core.Engine {
	s.once.Do(func() {
		if s.e == nil {
			s.e = core.New(Config{}.engine())
		}
	})
	return s.e
}

// Go runs fn in the background under label and returns at once. ctx gives fn
// its values, not its cancellation (nil means context.Background()). An empty
// label is recorded as UnlabeledLabel.
//
// Go never fails the caller: a nil fn, or a submission refused because the
// scheduler is draining, is logged at ERROR with the label and counted as
// rejected. During a drain, tasks submitted with the context of one of this
// scheduler's running tasks are still admitted and waited for.
func (s *Scheduler) Go(ctx context.Context, label string, fn func(ctx context.Context) error) {
	if s == nil {
		logx.Guard(func() {
			logx.Stderr(zapcore.WarnLevel).Error("fxasync: Go on a nil *Scheduler: task not run",
				zap.String("label", core.CleanLabel(label)))
		})
		return
	}
	e := s.engine()
	_ = e.Go(ctx, label, fn, callSite(e)) // a refusal is logged and counted by the engine
}

// TryGo is Go that reports a refusal instead of logging it, and that never
// blocks. The error matches ErrNilFunc, ErrClosed or ErrFull with errors.Is.
func (s *Scheduler) TryGo(ctx context.Context, label string, fn func(ctx context.Context) error) error {
	if s == nil {
		return fmt.Errorf("fxasync: nil *Scheduler: %w", ErrClosed)
	}
	e := s.engine()
	if err := e.TryGo(ctx, label, fn, callSite(e)); err != nil {
		return fmt.Errorf("fxasync: task %q: %w", core.CleanLabel(label), err)
	}
	return nil
}

// callSite is the program counter of the user's call to Go or TryGo, when
// call sites are recorded.
func callSite(e *core.Engine) uintptr {
	if !e.CallSites() {
		return 0
	}
	var pc [1]uintptr
	runtime.Callers(3, pc[:]) // Callers, callSite, Go or TryGo, then the user
	return pc[0]
}

// Drain refuses new tasks from outside and waits for every admitted task. It
// returns nil when all finished within the bound: the drain timeout, and
// when ctx has a deadline, the grace fits before it (the wait ends early
// enough). At the bound it cancels the contexts of the tasks left, waits the
// grace for them, logs one warning naming each task still running with its
// age, and returns a *DrainError wrapping context.DeadlineExceeded (or ctx's
// error if ctx was cancelled first). With a Keeper, it then hands what is
// unfinished of Kinds and keeping batchers to it, within Config.KeepTimeout
// (kept out of ctx's deadline), and the report counts what was kept.
//
// Drain is idempotent and safe for concurrent use: the first call drains,
// every call returns the same result when that drain is over. After Drain
// returns, every submission is refused.
func (s *Scheduler) Drain(ctx context.Context) error {
	if s == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s.drainOnce.Do(func() { s.drainErr = s.drainAndKeep(ctx) })
	return s.drainErr
}

// Draining returns a channel that is closed when Drain begins: a long task
// can watch it to wrap up early, a readiness check to report not ready. Once
// it is closed, Go from outside the scheduler's tasks is refused.
func (s *Scheduler) Draining() <-chan struct{} {
	if s == nil {
		return closedChan
	}
	return s.engine().Draining()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Pending returns the number of tasks admitted and not yet finished: the
// live count for health checks, the same figure as Stats().Total.Pending
// (a batcher's items are its own figure, BatcherStats.Pending).
func (s *Scheduler) Pending() int {
	if s == nil {
		return 0
	}
	return s.engine().Pending()
}
