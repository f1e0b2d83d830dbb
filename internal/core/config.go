package core

// This file holds the engine's configuration and its defaults.

import (
	"time"

	"go.uber.org/zap"
)

// Defaults for a zero Config field: the one place they are written.
const (
	DefaultDrainTimeout = 5 * time.Second
	DefaultGrace        = 250 * time.Millisecond
	DefaultIdleTimeout  = time.Second
	DefaultMaxLabels    = 256
	DefaultStopShare    = 0.5
	// DefaultMaxPending bounds admitted, unfinished tasks: a burst of ten
	// thousand never waits, and at 80 B a queued task record the whole
	// backlog is under 1 MB (plus a goroutine for each task that runs).
	DefaultMaxPending = 10_000
	// DefaultMaxWait is the longest Go waits for a slot before it refuses.
	DefaultMaxWait = time.Second
	// DefaultRejectLogInterval is how often, at most, a label's refusals
	// are logged: one line per label per interval, with the count.
	DefaultRejectLogInterval = time.Second
	// Unbounded, as MaxPending, LabelLimit or MaxWait, turns that bound off.
	Unbounded = -1
)

// Config is every setting of an engine. Zero fields take the defaults above;
// see fxasync.Config for each field's meaning.
type Config struct {
	Logger            *zap.Logger
	DrainTimeout      time.Duration // negative: none
	Grace             time.Duration // negative: none
	IdleTimeout       time.Duration
	MaxPending        int
	LabelLimit        int
	LabelLimits       map[string]int // keys cleaned as labels are
	MaxWait           time.Duration
	RejectLogInterval time.Duration
	MaxLabels         int
	PprofLabels       bool
	CallSites         bool
	StopShare         float64
	Middleware        []Middleware
	Retry             RetryPolicy            // every label's, unless in LabelRetries
	LabelRetries      map[string]RetryPolicy // keys cleaned as labels are
	// Panic makes the error a middleware's next returns for a task that
	// panicked, and PanicOf finds it back in what the middleware returned.
	Panic   func(value any, stack []byte) error
	PanicOf func(err error) (value any, stack []byte, ok bool)
}

// RetryPolicy is how a label's failed tasks are tried again. See
// fxasync.Retry for each field; Resolve fills the defaults.
type RetryPolicy struct {
	MaxAttempts int           // in all, the first included; ≤ 1: no retry; Unbounded: no limit
	MaxElapsed  time.Duration // from submission to the last attempt's start; Unbounded: none
	MinBackoff  time.Duration // bound of the first backoff
	MaxBackoff  time.Duration // bound of every backoff
	Panics      bool          // a panic is retried too
	Retryable   func(error) bool
	Budget      float64 // retries per first attempt, over time; Unbounded: none
	BudgetBurst int     // retries allowed before any first attempt has earned one
}

// Defaults of a RetryPolicy that retries (MaxAttempts > 1 or Unbounded).
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultMaxElapsed  = time.Minute
	DefaultBudget      = 0.1
	DefaultBudgetBurst = 10
)

// Retries reports whether p tries a failed task again at all.
func (p RetryPolicy) Retries() bool { return p.MaxAttempts > 1 || p.MaxAttempts == Unbounded }

// Resolve fills p's zero fields with the defaults and maps negative ones
// to Unbounded.
func (p RetryPolicy) Resolve() RetryPolicy {
	if p.MaxAttempts < 0 {
		p.MaxAttempts = Unbounded
	}
	p.MaxElapsed = orDefault(p.MaxElapsed, DefaultMaxElapsed)
	setDefault(&p.MinBackoff, DefaultMinBackoff)
	setDefault(&p.MaxBackoff, DefaultMaxBackoff)
	p.MaxBackoff = max(p.MaxBackoff, p.MinBackoff)
	switch {
	case p.Budget < 0 || p.Budget != p.Budget: // NaN too
		p.Budget = Unbounded
	case p.Budget == 0:
		p.Budget = DefaultBudget
	}
	setDefault(&p.BudgetBurst, DefaultBudgetBurst)
	return p
}

// limitOf returns the bound on label's pending tasks, or Unbounded.
func (c *Config) limitOf(label string) int {
	if n, ok := c.LabelLimits[label]; ok {
		return orDefault(n, c.LabelLimit)
	}
	return c.LabelLimit
}

// retryOf returns label's retry policy.
func (c *Config) retryOf(label string) RetryPolicy {
	if p, ok := c.LabelRetries[label]; ok {
		return p
	}
	return c.Retry
}

// WithDefaults fills the zero and out-of-range fields with the defaults.
func (c Config) WithDefaults() Config {
	c.DrainTimeout = atLeastZero(c.DrainTimeout, DefaultDrainTimeout)
	c.Grace = atLeastZero(c.Grace, DefaultGrace)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.MaxLabels, DefaultMaxLabels)
	setDefault(&c.RejectLogInterval, DefaultRejectLogInterval)
	c.MaxPending = orDefault(c.MaxPending, DefaultMaxPending)
	switch {
	case c.LabelLimit < 0, c.LabelLimit == 0 && c.MaxPending == Unbounded:
		c.LabelLimit = Unbounded
	case c.LabelLimit == 0:
		c.LabelLimit = max(c.MaxPending/2, 1)
	}
	limits := make(map[string]int, len(c.LabelLimits))
	for label, n := range c.LabelLimits {
		limits[CleanLabel(label)] = n
	}
	c.LabelLimits = limits
	c.Retry = c.Retry.Resolve()
	retries := make(map[string]RetryPolicy, len(c.LabelRetries))
	for label, p := range c.LabelRetries {
		retries[CleanLabel(label)] = p.Resolve()
	}
	c.LabelRetries = retries
	c.MaxWait = orDefault(c.MaxWait, DefaultMaxWait)
	if !(c.StopShare > 0 && c.StopShare <= 1) { // NaN too
		c.StopShare = DefaultStopShare
	}
	var mws []Middleware
	for _, mw := range c.Middleware {
		if mw != nil {
			mws = append(mws, mw)
		}
	}
	c.Middleware = mws
	return c
}

// orDefault maps 0 to def and any negative value to Unbounded.
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return Unbounded
	}
	return v
}

// atLeastZero maps 0 to def and any negative value to 0: "none".
func atLeastZero(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
