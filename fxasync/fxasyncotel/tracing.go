// Package fxasyncotel traces fxasync tasks with OpenTelemetry: one span per
// task, named after its label.
//
// It is its own module, so that users of fxasync who do not trace never
// download OpenTelemetry. It is an fxasync.Middleware, so a scheduler
// without it pays nothing; with fx, supply the fxasync.Config that lists it:
//
//	fx.Provide(func(tp trace.TracerProvider) fxasync.Config {
//		return fxasync.Config{Middleware: []fxasync.Middleware{
//			fxasyncotel.Middleware(fxasyncotel.Config{TracerProvider: tp}),
//		}}
//	})
//
// Background work is where traces break: a task started from a request
// outlives the request's span. By default, as the OpenTelemetry messaging
// conventions recommend for deferred work, a task's span is the root of a
// trace of its own, linked to the span that submitted it; Config.AsChild
// makes it a child of that span instead, for short tasks. Spans the task starts
// belong to the task's trace.
//
// A task span carries fxasync.label, fxasync.wait (seconds between
// submission and start) and fxasync.outcome (succeeded, failed, panicked,
// goexit), and, when the task did not succeed, the semantic conventions'
// error.type (the error's Go type, "panic" or "goexit"). A returned error
// sets the status to Error with the error's message; a panic records an
// "exception" event with its stack and sets the status to Error (the
// scheduler still recovers and logs it). The tracer's instrumentation scope
// is ScopeName at this module's Version. ParentBased
// samplers ignore links: wrap yours in LinkedSampler so that a task's root
// span is sampled when its submitter's was.
package fxasyncotel

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/fxtools/background/fxasync"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the task spans.
const ScopeName = "github.com/fxtools/background/fxasync/fxasyncotel"

// Attribute keys of a task span.
const (
	LabelKey   = attribute.Key("fxasync.label")
	WaitKey    = attribute.Key("fxasync.wait")
	OutcomeKey = attribute.Key("fxasync.outcome")
)

// Config configures Middleware. The zero Config traces with the global
// TracerProvider.
type Config struct {
	// TracerProvider makes the task spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// AsChild makes a task's span a child of the submitter's span, in its
	// trace, instead of a linked root.
	AsChild bool
}

// Middleware returns the fxasync middleware that wraps every task in a
// span. Put it in fxasync.Config.Middleware: first, to trace what the
// middlewares after it do (a retry's attempts are then one span).
func Middleware(cfg Config) fxasync.Middleware {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	tracer := tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()))
	return func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) (err error) {
		ctx, span := tracer.Start(ctx, t.Label, startOptions(ctx, t, cfg.AsChild)...)
		returned := false
		defer func() {
			if !returned {
				p := recover() // a middleware's own panic, passed on; nil under runtime.Goexit
				if p == nil {
					endGoexit(span)
					return
				}
				end(span, nil, true)
				panic(p)
			}
		}()
		err = next(ctx)
		returned = true
		end(span, err, false)
		return err
	}
}

func startOptions(ctx context.Context, t fxasync.TaskInfo, asChild bool) []trace.SpanStartOption {
	opts := []trace.SpanStartOption{
		trace.WithAttributes(LabelKey.String(t.Label), WaitKey.Float64(t.Age.Seconds())),
	}
	if !asChild {
		opts = append(opts, trace.WithNewRoot())
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	return opts
}

// Version is this module's version as the binary was built with it (its
// go.mod's, "v0.1.0" say), or "(devel)" when built from a work tree: the
// version of the task spans' instrumentation scope.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == modulePath {
			return bi.Main.Version
		}
		for _, m := range bi.Deps {
			if m.Path == modulePath {
				return m.Version
			}
		}
	}
	return "(devel)"
}

const modulePath = "github.com/fxtools/background/fxasync/fxasyncotel"

// end records how the task ended and ends its span: err is what next
// returned; without it (aborted), the task panicked in a middleware or
// called runtime.Goexit. Messages are bounded renderings that no Error
// method can crash: a hostile error cannot take the process or flood the
// exporter.
func end(span trace.Span, err error, panicked bool) {
	p := panicIn(err)
	switch {
	case p != nil || panicked:
		msg, stack := "panic in a middleware", ""
		if p != nil {
			msg, stack = p.Error(), string(p.Stack)
		}
		span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
			semconv.ExceptionType("panic"),
			semconv.ExceptionMessage(msg),
			semconv.ExceptionStacktrace(stack)))
		span.SetStatus(codes.Error, msg)
		span.SetAttributes(OutcomeKey.String("panicked"), semconv.ErrorTypeKey.String("panic"))
	case err != nil:
		span.SetStatus(codes.Error, render(err))
		// The error's Go type: low in cardinality, as error.type must be,
		// and %T calls no method of the error.
		span.SetAttributes(OutcomeKey.String("failed"), semconv.ErrorTypeKey.String(fmt.Sprintf("%T", err)))
	default:
		span.SetAttributes(OutcomeKey.String("succeeded"))
	}
	span.End()
}

// panicIn finds the task's panic in err, on a goroutine of its own when
// that calls err's methods: an Unwrap may panic or call runtime.Goexit.
func panicIn(err error) (p *fxasync.PanicError) {
	if err == nil {
		return nil
	}
	if p, ok := err.(*fxasync.PanicError); ok {
		return p
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		var found *fxasync.PanicError
		if errors.As(err, &found) {
			p = found
		}
	}()
	<-done
	return p
}

// endGoexit ends the span of a task that called runtime.Goexit.
func endGoexit(span trace.Span) {
	span.SetStatus(codes.Error, "runtime.Goexit")
	span.SetAttributes(OutcomeKey.String("goexit"), semconv.ErrorTypeKey.String("goexit"))
	span.End()
}
