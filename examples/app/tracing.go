package main

// This file holds -trace-stdout: OpenTelemetry spans for each request and
// each background task, printed to stdout.

import (
	"net/http"
	"os"
	"strings"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
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
		fx.Decorate(traceTasks),
		fx.Invoke(func(h *Handlers, tp trace.TracerProvider) { h.tracer = tp.Tracer("examples/app") }),
	)
}

// traceTasks makes the scheduler's first middleware fxasyncotel's: a span
// per task, around whatever the other middlewares do.
func traceTasks(c fxasync.Config, tp trace.TracerProvider) fxasync.Config {
	tracing := fxasyncotel.Middleware(fxasyncotel.Config{TracerProvider: tp})
	c.Middleware = append([]fxasync.Middleware{tracing}, c.Middleware...)
	return c
}

// newTracerProvider exports to stdout; it is built before the scheduler
// (its Config's middleware needs it), so its shutdown, which flushes the
// last spans, runs after the drain.
func newTracerProvider(lc fx.Lifecycle) (trace.TracerProvider, error) {
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		return nil, err
	}
	tp := buildTracerProvider(exp)
	lc.Append(fx.StopHook(tp.Shutdown))
	return tp, nil
}

// serviceName is the service.name of every span the example exports.
const serviceName = "model-gateway"

// buildTracerProvider exports to exp, with the service's resource and a
// sampler that keeps a task's linked root when its request was sampled.
func buildTracerProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(serviceName))),
		sdktrace.WithSampler(fxasyncotel.LinkedSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
}

// traced wraps the routes in a server span per request, named after the
// route's pattern (never the raw path: its bytes are the client's), with
// the semantic conventions' http.request.method (a method the service does
// not know is "_OTHER", as they say: it is the client's too) and
// http.route.
func (h *Handlers) traced(mux *http.ServeMux) http.Handler {
	if h.tracer == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(knownMethod(r.Method))}
		if pattern == "" {
			pattern = "unmatched route"
		} else {
			_, route, _ := strings.Cut(pattern, " ") // "POST /v1/traces": the method, then the route
			attrs = append(attrs, semconv.HTTPRoute(route))
		}
		ctx, span := h.tracer.Start(r.Context(), pattern, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

// knownMethod is m when it is one of HTTP's methods, else "_OTHER".
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
