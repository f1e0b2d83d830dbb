// Package fxasyncotel traces fxasync tasks with OpenTelemetry: one span per
// task, named after its label.
//
// It is its own module, so that users of fxasync who do not trace never
// download OpenTelemetry. It is built on fxasync's task middleware, so a
// scheduler without it pays nothing.
//
// Background work is where traces break: a task started from a request
// outlives the request's span. By default, as the OpenTelemetry messaging
// conventions recommend for deferred work, a task's span is the root of a
// trace of its own, linked to the span that submitted it; AsChild makes it
// a child of that span instead, for short tasks. Spans the task starts
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
	"fmt"
	"runtime/debug"

	"github.com/fxtools/background/fxasync"
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

// An Option configures WithTracing.
type Option interface{ apply(*config) }

type config struct{ asChild bool }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// AsChild makes a task's span a child of the submitter's span, in its
// trace, instead of a linked root.
func AsChild() Option { return optionFunc(func(c *config) { c.asChild = true }) }

// WithTracing returns an fxasync option that wraps every task in a span
// from tp.
func WithTracing(tp trace.TracerProvider, opts ...Option) fxasync.Option {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return fxasync.WithMiddleware(middleware(tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version())), c))
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

func middleware(tracer trace.Tracer, c config) fxasync.Middleware {
	return func(ctx context.Context, t fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		opts := []trace.SpanStartOption{
			trace.WithTimestamp(t.Started),
			trace.WithAttributes(LabelKey.String(t.Label), WaitKey.Float64(t.Started.Sub(t.Submitted).Seconds())),
		}
		if !c.asChild {
			opts = append(opts, trace.WithNewRoot())
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
		ctx, span := tracer.Start(ctx, t.Label, opts...)
		return ctx, func(e fxasync.TaskEnd) { end(span, e) }
	}
}

// end records how the task ended and ends its span. Messages are the
// scheduler's bounded renderings (TaskEnd.Message): a hostile error or
// panic value cannot crash the process or flood the exporter.
func end(span trace.Span, e fxasync.TaskEnd) {
	switch {
	case e.Panicked:
		msg := "panic: " + e.Message
		span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
			semconv.ExceptionType("panic"),
			semconv.ExceptionMessage(msg),
			semconv.ExceptionStacktrace(string(e.Stack))))
		span.SetStatus(codes.Error, msg)
		span.SetAttributes(OutcomeKey.String("panicked"), semconv.ErrorTypeKey.String("panic"))
	case e.Goexit:
		span.SetStatus(codes.Error, "runtime.Goexit")
		span.SetAttributes(OutcomeKey.String("goexit"), semconv.ErrorTypeKey.String("goexit"))
	case e.Err != nil:
		span.SetStatus(codes.Error, e.Message)
		// The error's Go type: low in cardinality, as error.type must be,
		// and %T calls no method of the error.
		span.SetAttributes(OutcomeKey.String("failed"), semconv.ErrorTypeKey.String(fmt.Sprintf("%T", e.Err)))
	default:
		span.SetAttributes(OutcomeKey.String("succeeded"))
	}
	span.End()
}
