package fxasynctest

// This file holds Module, for fxtest apps.

import (
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/internal/kit"
	"go.uber.org/fx"
)

// Module replaces fxasync.Module in an fxtest app: it provides the
// scheduler from New(t, opts...), and drains it on the app's stop as
// fxasync.Module does (DrainBefore and fxshutdown's step included). The
// app's supplied fxasync.Config, if any, configures the scheduler unless
// WithConfig is given. The test's end checks it as New's does.
func Module(t testing.TB, opts ...Option) fx.Option {
	o := optionsOf(opts)
	return kit.Module(func(cfg fxasync.Config) *fxasync.Scheduler {
		if o.cfg != nil {
			cfg = *o.cfg
		}
		return newFor(t, o, cfg)
	})
}
