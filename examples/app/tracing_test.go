package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
	assert.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/nope-\xff-secret", "").Code)
	app.RequireStop()

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		spans[sp.Name()] = sp
	}
	req, cache := spans["POST /v1/chat/completions"], spans["cache-set"]
	require.NotNil(t, req, "spans: %v", spans)
	require.NotNil(t, cache, "spans: %v", spans)
	assert.Equal(t, trace.SpanKindServer, req.SpanKind())
	require.Len(t, cache.Links(), 1)
	assert.Equal(t, req.SpanContext().SpanID(), cache.Links()[0].SpanContext.SpanID())
	assert.Contains(t, spans, "unmatched route")
	for name := range spans {
		assert.NotContains(t, name, "secret")
	}
}
