package fxasyncotel_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a provider recording every span, and a scheduler tracing
// with it.
func setup(cfg fxasyncotel.Config, more ...fxasync.Middleware) (*tracetest.SpanRecorder, *sdktrace.TracerProvider, *fxasync.Scheduler) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg.TracerProvider = tp
	return rec, tp, traced(tp, cfg, more...)
}

func traced(tp *sdktrace.TracerProvider, cfg fxasyncotel.Config, more ...fxasync.Middleware) *fxasync.Scheduler {
	cfg.TracerProvider = tp
	mws := append([]fxasync.Middleware{fxasyncotel.Middleware(cfg)}, more...)
	return fxasync.New(fxasync.Config{Logger: zap.NewNop(), Middleware: mws})
}

func byName(rec *tracetest.SpanRecorder) map[string]sdktrace.ReadOnlySpan {
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		out[s.Name()] = s
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// By default a task's span is the root of its own trace, linked to the
// request's span, and spans the task starts are its children.
func TestTaskSpanIsALinkedRoot(t *testing.T) {
	rec, tp, s := setup(fxasyncotel.Config{})
	ctx, req := tp.Tracer("test").Start(context.Background(), "request")
	s.Go(ctx, "log-usage", func(ctx context.Context) error {
		_, insert := tp.Tracer("test").Start(ctx, "insert")
		insert.End()
		return nil
	})
	req.End()
	require.NoError(t, s.Drain(context.Background()))

	spans := byName(rec)
	task, insert := spans["log-usage"], spans["insert"]
	require.NotNil(t, task)
	require.NotNil(t, insert)
	assert.False(t, task.Parent().IsValid(), "a root")
	assert.NotEqual(t, req.SpanContext().TraceID(), task.SpanContext().TraceID(), "a trace of its own")
	require.Len(t, task.Links(), 1)
	assert.Equal(t, req.SpanContext(), task.Links()[0].SpanContext)
	assert.Equal(t, task.SpanContext().SpanID(), insert.Parent().SpanID(), "the task's spans are its children")
	assert.Equal(t, "log-usage", attr(task, fxasyncotel.LabelKey).AsString())
	assert.GreaterOrEqual(t, attr(task, fxasyncotel.WaitKey).AsFloat64(), 0.0)
	assert.Equal(t, "succeeded", attr(task, fxasyncotel.OutcomeKey).AsString())
	assert.Equal(t, codes.Unset, task.Status().Code)
}

// AsChild puts the task's span in the request's trace, under its span.
func TestAsChild(t *testing.T) {
	rec, tp, s := setup(fxasyncotel.Config{AsChild: true})
	ctx, req := tp.Tracer("test").Start(context.Background(), "request")
	s.Go(ctx, "cache-set", func(context.Context) error { return nil })
	require.NoError(t, s.Drain(context.Background()))
	req.End()
	task := byName(rec)["cache-set"]
	require.NotNil(t, task)
	assert.Equal(t, req.SpanContext().SpanID(), task.Parent().SpanID())
	assert.Empty(t, task.Links())
}

type hostileErr struct{}

func (hostileErr) Error() string { panic("Error() panics") }

type goexitErr struct{}

func (goexitErr) Error() string { runtime.Goexit(); return "" }

// A returned error sets status Error with its message; a panic records an
// exception event with the stack; Goexit and a hostile error are reported
// too, and every span ends.
func TestOutcomes(t *testing.T) {
	rec, _, s := setup(fxasyncotel.Config{})
	s.Go(context.Background(), "fails", func(context.Context) error { return errors.New("db down") })
	s.Go(context.Background(), "panics", func(context.Context) error { panic("bad row") })
	s.Go(context.Background(), "exits", func(context.Context) error { runtime.Goexit(); return nil })
	s.Go(context.Background(), "hostile", func(context.Context) error { return hostileErr{} })
	s.Go(context.Background(), "goexit-error", func(context.Context) error { return goexitErr{} })
	require.NoError(t, s.Drain(context.Background()))

	spans := byName(rec)
	require.Len(t, spans, 5, "an Error() that calls runtime.Goexit used to end the span never")
	assert.Contains(t, spans["goexit-error"].Status().Description, "rendering it called runtime.Goexit")
	assert.Equal(t, sdktrace.Status{Code: codes.Error, Description: "db down"}, spans["fails"].Status())
	assert.Equal(t, "failed", attr(spans["fails"], fxasyncotel.OutcomeKey).AsString())

	p := spans["panics"]
	assert.Equal(t, codes.Error, p.Status().Code)
	assert.Contains(t, p.Status().Description, "bad row")
	require.Len(t, p.Events(), 1)
	ev := p.Events()[0]
	assert.Equal(t, "exception", ev.Name)
	var stack string
	for _, kv := range ev.Attributes {
		if kv.Key == "exception.stacktrace" {
			stack = kv.Value.AsString()
		}
	}
	assert.Contains(t, stack, "tracing_test.go")

	assert.Equal(t, "goexit", attr(spans["exits"], fxasyncotel.OutcomeKey).AsString())

	// The semantic conventions' names, checked against the conventions'
	// own package: error.type on every task that did not succeed.
	for name, want := range map[string]string{"fails": "*errors.errorString", "panics": "panic", "exits": "goexit",
		"hostile": "fxasyncotel_test.hostileErr"} {
		assert.Equal(t, want, attr(spans[name], semconv.ErrorTypeKey).AsString(), name)
	}
	assert.Equal(t, semconv.ExceptionEventName, ev.Name)
	assert.Equal(t, fxasyncotel.ScopeName, p.InstrumentationScope().Name)
	assert.Equal(t, fxasyncotel.Version(), p.InstrumentationScope().Version)
	assert.NotEmpty(t, fxasyncotel.Version())
	assert.Equal(t, codes.Error, spans["hostile"].Status().Code)
	assert.NotEmpty(t, spans["hostile"].Status().Description)
}

// ParentBased samplers ignore links; LinkedSampler samples a task's root
// when its submitter was sampled.
func TestLinkedSampler(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1},
		TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := trace.ContextWithSpanContext(context.Background(), sampled)
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
		want    int
	}{
		{"parent-based", sdktrace.ParentBased(sdktrace.NeverSample()), 0},
		{"linked", fxasyncotel.LinkedSampler(sdktrace.ParentBased(sdktrace.NeverSample())), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(tc.sampler))
			s := traced(tp, fxasyncotel.Config{})
			s.Go(ctx, "log-usage", func(context.Context) error { return nil })
			s.Go(context.Background(), "unlinked", func(context.Context) error { return nil })
			require.NoError(t, s.Drain(context.Background()))
			assert.Len(t, rec.Ended(), tc.want)
		})
	}
}

// With fx, the Config supplied to the graph lists the middleware: the
// graph's provider traces the scheduler's tasks.
func TestWithFx(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var s *fxasync.Scheduler
	app := fxtest.New(t, fx.NopLogger, fx.Supply(zap.NewNop()),
		fx.Provide(func() trace.TracerProvider { return tp }),
		fx.Provide(func(tp trace.TracerProvider) fxasync.Config {
			return fxasync.Config{Middleware: []fxasync.Middleware{fxasyncotel.Middleware(fxasyncotel.Config{TracerProvider: tp})}}
		}),
		fxasync.Module, fx.Populate(&s))
	app.RequireStart()
	s.Go(context.Background(), "log-usage", func(context.Context) error { return nil })
	app.RequireStop()
	require.Len(t, rec.Ended(), 1)
	assert.Equal(t, "log-usage", rec.Ended()[0].Name())
}

// A middleware after the tracer that retries makes one span of both
// attempts; one that panics is recorded as the task's panic, and passed on
// to the scheduler, which counts it.
func TestSpanAroundOtherMiddleware(t *testing.T) {
	retry := func(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
		if err := next(ctx); err != nil {
			return next(ctx)
		}
		return nil
	}
	panics := func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		if t.Label == "mw-panics" {
			panic("middleware")
		}
		return next(ctx)
	}
	rec, _, s := setup(fxasyncotel.Config{}, retry, panics)
	attempts := 0
	s.Go(context.Background(), "flaky", func(context.Context) error {
		if attempts++; attempts == 1 {
			return errors.New("once")
		}
		return nil
	})
	s.Go(context.Background(), "mw-panics", func(context.Context) error { return nil })
	require.NoError(t, s.Drain(context.Background()))
	spans := byName(rec)
	require.Len(t, spans, 2)
	assert.Equal(t, "succeeded", attr(spans["flaky"], fxasyncotel.OutcomeKey).AsString())
	assert.Equal(t, "panicked", attr(spans["mw-panics"], fxasyncotel.OutcomeKey).AsString())
	assert.Equal(t, int64(1), s.Stats().Total.Panicked, "the panic reached the scheduler")
	assert.Equal(t, int64(1), s.Stats().Total.Succeeded)
}

// A returned error whose Unwrap panics or calls runtime.Goexit costs
// nothing but its detail: the span ends, the task is counted failed.
func TestHostileUnwrap(t *testing.T) {
	rec, _, s := setup(fxasyncotel.Config{})
	s.Go(context.Background(), "unwrap-panics", func(context.Context) error { return unwrapErr{exit: false} })
	s.Go(context.Background(), "unwrap-exits", func(context.Context) error { return unwrapErr{exit: true} })
	require.NoError(t, s.Drain(context.Background()))
	spans := byName(rec)
	require.Len(t, spans, 2)
	for name, span := range spans {
		assert.Equal(t, "failed", attr(span, fxasyncotel.OutcomeKey).AsString(), name)
	}
	assert.Equal(t, int64(2), s.Stats().Total.Failed)
}

type unwrapErr struct{ exit bool }

func (unwrapErr) Error() string { return "hostile unwrap" }
func (e unwrapErr) Unwrap() error {
	if e.exit {
		runtime.Goexit()
	}
	panic("Unwrap")
}
