package core

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
	// DefaultMaxInFlight bounds admitted, unfinished tasks: a burst of ten
	// thousand never waits, and at 80 B a queued task record the whole
	// backlog is under 1 MB (plus a goroutine for each task that runs).
	DefaultMaxInFlight = 10_000
	// DefaultMaxWait is the longest Go waits for a slot before it refuses.
	DefaultMaxWait = time.Second
	// DefaultRejectLogInterval is how often, at most, a label's refusals
	// are logged: one line per label per interval, with the count.
	DefaultRejectLogInterval = time.Second
	// Unbounded, as MaxInFlight, LabelLimit or MaxWait, turns that bound off.
	Unbounded = -1
)

// Config is every setting of a scheduler, and each of its values is an Option
// that sets its non-zero fields: fxasync.WithGrace(d) is Config{Grace: d}.
// Zero fields take the defaults above. Config values compare with ==.
type Config struct {
	// Logger receives failures and drain reports; nil logs WARN and above
	// to stderr.
	Logger *zap.Logger
	// DrainTimeout bounds Drain, grace included when the drain's context
	// has a deadline. Default 5 s.
	DrainTimeout time.Duration
	// Grace is how long Drain waits, after cancelling the tasks left at its
	// bound, for them to return. Default 250 ms.
	Grace time.Duration
	// IdleTimeout is how long an idle worker goroutine waits for the next
	// task before it exits. Default 1 s.
	IdleTimeout time.Duration
	// MaxInFlight bounds the tasks admitted and not finished. Default
	// 10,000; Unbounded (any negative value) turns the bound off.
	MaxInFlight int
	// LabelLimit bounds the pending tasks of any one label, so that a flood
	// on one label cannot take every slot. Default: half of MaxInFlight
	// (unbounded when MaxInFlight is); Unbounded turns it off. WithLabelLimit
	// sets it for one label.
	LabelLimit int
	// MaxWait is the longest Go waits for a slot before it refuses the
	// task. Default 1 s; Unbounded waits until the caller's context ends.
	MaxWait time.Duration
	// RejectLogInterval is the least time between two "async task
	// rejected" lines of one label. Default 1 s.
	RejectLogInterval time.Duration
	// MaxLabels caps the distinct labels counted apart; default 256. Later
	// labels are counted under OverflowLabel.
	MaxLabels int
	// PprofLabels runs each task under the pprof label fxasync_label.
	PprofLabels bool
	// CallSites records where each task was submitted (file:line).
	CallSites bool
	// StopShare is, for the fx module without fxshutdown, the largest share
	// of the time left in fx's stop budget that the drain may use, grace
	// included. Default 0.5.
	StopShare float64

	// labelLimits holds WithLabelLimit's bounds: copied on write, so Config
	// stays comparable (two Configs compare equal only when they share it).
	labelLimits *map[string]int
	// middleware runs around every task (WithMiddleware). A pointer keeps
	// Config comparable.
	middleware *[]Middleware
}

// LabelLimitOption bounds the pending tasks of one label; see WithLabelLimit.
type LabelLimitOption struct {
	Label string
	Limit int
}

func (o LabelLimitOption) apply(c *Config) {
	m := map[string]int{}
	if c.labelLimits != nil {
		for k, v := range *c.labelLimits {
			m[k] = v
		}
	}
	m[CleanLabel(o.Label)] = o.Limit
	c.labelLimits = &m
}

// LimitOf returns the bound on label's pending tasks, or Unbounded.
func (c Config) LimitOf(label string) int {
	if c.labelLimits != nil {
		if n, ok := (*c.labelLimits)[label]; ok {
			return n
		}
	}
	return c.LabelLimit
}

// Middleware returns the task middleware, in the order added.
func (c Config) Middleware() []Middleware {
	if c.middleware == nil {
		return nil
	}
	return *c.middleware
}

// MiddlewareOption adds task middleware. A pointer, so that Config values
// holding it still compare with ==.
type MiddlewareOption struct{ mws []Middleware }

// WithMiddleware returns an Option that adds mws, after any added before.
func WithMiddleware(mws ...Middleware) *MiddlewareOption { return &MiddlewareOption{mws} }

func (o *MiddlewareOption) apply(to *Config) {
	var all []Middleware
	if to.middleware != nil {
		all = append(all, *to.middleware...)
	}
	for _, mw := range o.mws {
		if mw != nil {
			all = append(all, mw)
		}
	}
	to.middleware = &all
}

// An Option changes a Config. Every Config is one.
type Option interface{ apply(*Config) }

// apply sets c's non-zero fields on to.
func (c Config) apply(to *Config) {
	if c.Logger != nil {
		to.Logger = c.Logger
	}
	setIf(&to.DrainTimeout, c.DrainTimeout)
	setIf(&to.Grace, c.Grace)
	setIf(&to.IdleTimeout, c.IdleTimeout)
	setIf(&to.MaxInFlight, c.MaxInFlight)
	setIf(&to.LabelLimit, c.LabelLimit)
	setIf(&to.MaxWait, c.MaxWait)
	setIf(&to.RejectLogInterval, c.RejectLogInterval)
	if c.labelLimits != nil {
		for k, v := range *c.labelLimits {
			LabelLimitOption{k, v}.apply(to)
		}
	}
	if c.middleware != nil {
		(&MiddlewareOption{*c.middleware}).apply(to)
	}
	setIf(&to.MaxLabels, c.MaxLabels)
	setIf(&to.StopShare, c.StopShare)
	to.PprofLabels = to.PprofLabels || c.PprofLabels
	to.CallSites = to.CallSites || c.CallSites
}

func setIf[T comparable](to *T, v T) {
	var zero T
	if v != zero {
		*to = v
	}
}

// Build merges opts, in order, into a Config.
func Build(opts ...Option) Config {
	var c Config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithDefaults fills the zero and out-of-range fields with the defaults.
func (c Config) WithDefaults() Config {
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.Grace, DefaultGrace)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.MaxLabels, DefaultMaxLabels)
	setDefault(&c.RejectLogInterval, DefaultRejectLogInterval)
	c.MaxInFlight = orDefault(c.MaxInFlight, DefaultMaxInFlight)
	switch {
	case c.LabelLimit < 0, c.LabelLimit == 0 && c.MaxInFlight == Unbounded:
		c.LabelLimit = Unbounded
	case c.LabelLimit == 0:
		c.LabelLimit = max(c.MaxInFlight/2, 1)
	}
	c.MaxWait = orDefault(c.MaxWait, DefaultMaxWait)
	if c.StopShare <= 0 || c.StopShare > 1 {
		c.StopShare = DefaultStopShare
	}
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

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
