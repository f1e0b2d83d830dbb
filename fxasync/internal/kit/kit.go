// Package kit is the seam between fxasync and its test kit, fxasynctest:
// what the kit needs of a Scheduler that the public API does not offer.
// fxasync fills it in at init; nothing else may use it.
package kit

import (
	"github.com/fxtools/background/internal/core"
	"go.uber.org/fx"
)

// Scheduler is the kit's view of an *fxasync.Scheduler.
type Scheduler interface {
	// Engine is the scheduler's engine.
	Engine() *core.Engine
	// Flush starts a write of what every batcher holds and every
	// Coalescer delays, and reports whether all are quiet (see fxasync's
	// flusher).
	Flush(backoffIdle bool) (quiet bool)
}

var (
	// Of is the kit's view of s, an *fxasync.Scheduler.
	Of func(s any) Scheduler
	// Module is fxasync.Module with build, a func(fxasync.Config)
	// *fxasync.Scheduler, in place of fxasync.New.
	Module func(build any) fx.Option
)
