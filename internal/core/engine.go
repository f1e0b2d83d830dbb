package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults for a zero Config field.
const (
	DefaultDrainTimeout = 5 * time.Second
	DefaultGrace        = 250 * time.Millisecond
	DefaultIdleTimeout  = time.Second
	DefaultMaxLabels    = 256
)

// Errors returned by Submit.
var (
	ErrClosed  = errors.New("scheduler is draining or drained")
	ErrNilFunc = errors.New("task function is nil")
	ErrFull    = errors.New("scheduler is at its limit of tasks in flight")
)

// Config sets up an Engine. Zero fields take the defaults above.
type Config struct {
	Logger       *zap.Logger   // failures, drain warnings; nil logs to stderr
	DrainTimeout time.Duration // bound on Drain, before the grace
	Grace        time.Duration // wait after cancelling stragglers
	IdleTimeout  time.Duration // a spare worker exits after this long idle
	MaxInFlight  int           // 0: unbounded
	MaxLabels    int           // distinct labels counted apart
	PprofLabels  bool          // run each task under pprof label fxasync_label
	CallSites    bool          // record where each task was submitted
}

// state word layout: the low bits count admitted, unfinished tasks.
const (
	drainingBit = int64(1) << 62 // Drain has begun
	closedBit   = int64(1) << 61 // drained, or Drain gave up: admit nothing
	countMask   = closedBit - 1
)

// Engine runs and tracks tasks. Create it with New.
type Engine struct {
	state atomic.Int64
	_     [56]byte // keep the hot state word on its own cache line

	q      queue
	spare  atomic.Int32 // workers not running a task
	parked atomic.Int32 // spare workers blocked in park
	wake   chan struct{}
	quit   chan struct{} // closed when Drain returns: spare workers exit

	mu      sync.Mutex // consumer side of q, and the worker list
	workers workerList

	stop       context.Context // Done of every task context
	cancelStop context.CancelCauseFunc
	draining   chan struct{} // closed when Drain begins
	drained    chan struct{} // closed when the count reaches zero while draining

	drainWake  chan struct{} // closed to wake Drain: drained, bound or ctx
	woken      atomic.Bool
	drainOnce  sync.Once
	drainErr   error
	drainStart atomic.Int64               // e.now() when Drain began
	drainEnd   atomic.Int64               // e.now() when the count reached zero
	lastDrain  atomic.Pointer[DrainStats] // set when Drain gave up
	closeOnce  sync.Once

	sem    chan struct{} // slots when MaxInFlight > 0
	labels labelTable
	log    *zap.Logger
	cfg    Config
	epoch  time.Time
}

// New returns a running Engine.
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		wake:      make(chan struct{}, 1024),
		quit:      make(chan struct{}),
		draining:  make(chan struct{}),
		drainWake: make(chan struct{}),
		drained:   make(chan struct{}),
		log:       cfg.Logger,
		cfg:       cfg,
		epoch:     time.Now(),
	}
	e.q.init()
	e.stop, e.cancelStop = context.WithCancelCause(context.Background())
	e.labels.init(cfg.MaxLabels)
	if cfg.MaxInFlight > 0 {
		e.sem = make(chan struct{}, cfg.MaxInFlight)
	}
	return e
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = StderrLogger(zapcore.WarnLevel)
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxLabels <= 0 {
		c.MaxLabels = DefaultMaxLabels
	}
	return c
}

// Pending returns the number of admitted tasks that have not finished. While a
// submission is being refused during a drain it may read one too many.
func (e *Engine) Pending() int { return int(e.state.Load() & countMask) }

func (e *Engine) now() int64 { return int64(time.Since(e.epoch)) }

// Config returns the engine's configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Draining returns a channel that is closed when Drain begins.
func (e *Engine) Draining() <-chan struct{} { return e.draining }
