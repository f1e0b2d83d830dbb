package fxasync

// This file fills in the test kit's seam (internal/kit): fxasynctest's
// view of a Scheduler, and the Module with its scheduler.

import (
	"github.com/fxtools/background/fxasync/internal/kit"
	"github.com/fxtools/background/internal/core"
	"go.uber.org/fx"
)

func init() {
	kit.Of = func(s any) kit.Scheduler { return kitView{s.(*Scheduler)} }
	kit.Module = func(build any) fx.Option {
		b := build.(func(Config) *Scheduler)
		return fx.Module("fxasync", fx.Provide(func(p params) *Scheduler { return fromGraph(p, b) }))
	}
}

type kitView struct{ s *Scheduler }

func (v kitView) Engine() *core.Engine { return v.s.engine() }

func (v kitView) Flush(backoffIdle bool) bool {
	quiet := true
	for _, b := range v.s.flusherList() {
		quiet = b.flush(backoffIdle) && quiet
	}
	return quiet
}
