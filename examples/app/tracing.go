package main

// This file holds -trace-stdout: OpenTelemetry spans for each request and
// each background task, printed to stdout.

import (
	"net/http"
	"os"

	"github.com/fxtools/background/fxasync/fxasyncotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

// traceOptions wires tracing when -trace-stdout is set: a span per request
// (its route's pattern as name) and, through fxasyncotel, a span per
// background task, the root of its own trace, linked to the request's.
func traceOptions(cfg Config) fx.Option {
	if !cfg.TraceStdout {
		return fx.Options()
	}
	return fx.Options(
		fx.Provide(newTracerProvider),
		fxasyncotel.Module,
		fx.Invoke(func(h *Handlers, tp trace.TracerProvider) { h.tracer = tp.Tracer("examples/app") }),
	)
}

// newTracerProvider exports to stdout; it is built before the scheduler
// (fxasyncotel's option feeds it), so its shutdown, which flushes the last
// spans, runs after the drain.
func newTracerProvider(lc fx.Lifecycle) (trace.TracerProvider, error) {
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(fxasyncotel.LinkedSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
	lc.Append(fx.StopHook(tp.Shutdown))
	return tp, nil
}

// traced wraps the routes in a server span per request, named after the
// route's pattern (never the raw path: its bytes are the client's).
func (h *Handlers) traced(mux *http.ServeMux) http.Handler {
	if h.tracer == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched route"
		}
		ctx, span := h.tracer.Start(r.Context(), pattern, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
