package fxasyncotel

// This file holds the fx module.

import (
	"github.com/fxtools/background/fxasync"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

// Module traces the tasks of fxasync.Module's scheduler with the
// trace.TracerProvider in the graph, as WithTracing does with no option. It
// feeds fxasync.Module's option group (fxasync.OptionGroup); without a
// TracerProvider in the graph, the application fails to start, saying so.
var Module = fx.Module("fxasyncotel", fx.Provide(fx.Annotate(
	func(tp trace.TracerProvider) fxasync.Option { return WithTracing(tp) },
	fx.ResultTags(`group:"`+fxasync.OptionGroup+`"`),
)))
