package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// With -trace-stdout, a chat request has a server span named after its
// route, and its cache write a span of its own trace linked to it; a
// hostile path never names a span.
func TestTraceRequestAndTask(t *testing.T) {
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "t.db"), "-trace-stdout"})
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var h *Handlers
	app := fxtest.New(t, append(options(cfg),
		fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.NewNop() }),
		fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp }),
		fx.Populate(&h))...)
	app.RequireStart()
	s := &testService{h: h.Routes()}
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodPost, "/v1/chat/completions",
		`{"model":"m1","messages":[{"role":"user","content":"traced"}]}`).Code)
	assert.Equal(t, http.StatusNotFound, s.do(t, "FROB", "/nope-\xff-secret", "").Code)
	app.RequireStop()

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		spans[sp.Name()] = sp
	}
	req, cache := spans["POST /v1/chat/completions"], spans["cache-set"]
	require.NotNil(t, req, "spans: %v", spans)
	require.NotNil(t, cache, "spans: %v", spans)
	assert.Equal(t, trace.SpanKindServer, req.SpanKind())
	attrs := attribute.NewSet(req.Attributes()...)
	for key, want := range map[attribute.Key]attribute.Value{
		semconv.HTTPRequestMethodKey:      attribute.StringValue("POST"),
		semconv.HTTPRouteKey:              attribute.StringValue("/v1/chat/completions"),
		semconv.HTTPResponseStatusCodeKey: attribute.IntValue(200),
	} {
		got, ok := attrs.Value(key)
		assert.True(t, ok, "%s on the server span", key)
		assert.Equal(t, want, got, key)
	}
	// The cache write is a Coalescer's (TrySet): it may carry many requests'
	// newest value, so it is a root of its own, not one request's child.
	assert.Empty(t, cache.Links())
	assert.False(t, cache.Parent().IsValid())
	assert.Contains(t, spans, "unmatched route")
	oddAttrs := attribute.NewSet(spans["unmatched route"].Attributes()...)
	odd, _ := oddAttrs.Value(semconv.HTTPRequestMethodKey)
	assert.Equal(t, "_OTHER", odd.AsString(), "a client's own method never reaches a span")
	for name := range spans {
		assert.NotContains(t, name, "secret")
	}
}

// Every span the example exports names its service.
func TestTracesNameTheService(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := buildTracerProvider(exp)
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	span.End()
	require.NoError(t, tp.ForceFlush(context.Background())) // Shutdown would clear the exporter
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	name, ok := spans[0].Resource.Set().Value(semconv.ServiceNameKey)
	require.True(t, ok)
	assert.Equal(t, serviceName, name.AsString())
}
