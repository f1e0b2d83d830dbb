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
	// MaxInFlight bounds the tasks admitted and not finished; 0 is unbounded.
	MaxInFlight int
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
	if c.StopShare <= 0 || c.StopShare > 1 {
		c.StopShare = DefaultStopShare
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
