package fxasynctest

// This file holds the kit's options.

import (
	"time"

	"github.com/fxtools/background/fxasync"
)

// An Option changes what New, Module or Wait do.
type Option func(*options)

type options struct {
	cfg    *fxasync.Config
	bound  time.Duration
	allow  bool
	inline bool
	clock  *Clock
}

// defaultBound is how long the drain at the test's end, and Wait, may take.
const defaultBound = 5 * time.Second

func optionsOf(opts []Option) options {
	o := options{bound: defaultBound}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithConfig is the scheduler's own configuration. Its lines go to the
// test's log, and to its Logger too when set (a test that reads them keeps
// them); its Slog is not used; CallSites is on (a stuck task is named with
// the file:line that submitted it).
func WithConfig(cfg fxasync.Config) Option { return func(o *options) { o.cfg = &cfg } }

// DrainTimeout bounds the drain at the test's end, and Wait: past it the
// test fails, naming what is still pending. Default 5 s; a value ≤ 0 keeps
// the default.
func DrainTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.bound = d
		}
	}
}

// AllowFailures lets the test pass when tasks failed, panicked or were
// refused; by default any of them fails it, naming the label and error.
func AllowFailures() Option { return func(o *options) { o.allow = true } }

// Inline makes Go and TryGo run the task on the caller's goroutine before
// they return — still recovered, counted and logged as usual — and a
// batcher's Add and TryAdd write the item's batch before they return. A
// task's retry still runs on a worker. A task that waits for another task
// to run first deadlocks under Inline.
func Inline() Option { return func(o *options) { o.inline = true } }

// WithClock makes c the scheduler's clock: batch delays, retry backoff,
// the drain's bound and grace, task ages and CheckStuck's thresholds move
// only when c.Advance is called. The drain at the test's end and Wait are
// still bounded in wall time.
func WithClock(c *Clock) Option { return func(o *options) { o.clock = c } }
