package fxasyncotel_test

import (
	"context"
	"fmt"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncotel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
)

// A task started from a request gets a span of its own, the root of its
// own trace, linked to the request's span.
func ExampleMiddleware() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSampler(fxasyncotel.LinkedSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(),
		Middleware: []fxasync.Middleware{fxasyncotel.Middleware(fxasyncotel.Config{TracerProvider: tp})}})

	ctx, request := tp.Tracer("http").Start(context.Background(), "POST /v1/chat/completions")
	s.Go(ctx, "log-usage", func(context.Context) error { return nil })
	request.End()
	_ = s.Drain(context.Background())

	for _, span := range rec.Ended() {
		if span.Name() == "log-usage" {
			link := span.Links()[0].SpanContext
			fmt.Println("task span linked to the request's:", link.SpanID() == request.SpanContext().SpanID())
			fmt.Println("same trace:", span.SpanContext().TraceID() == request.SpanContext().TraceID())
		}
	}
	// Output:
	// task span linked to the request's: true
	// same trace: false
}
