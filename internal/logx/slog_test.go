package logx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Entries reach the slog handler with the same message, keys and level;
// a panicking handler does not crash the caller.
func TestFromSlog(t *testing.T) {
	var buf bytes.Buffer
	l := FromSlog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))).Named("async-task")
	l.Info("not shown")
	l.With(zap.String("label", "log-usage")).Error("async task failed", zap.Error(errors.New("db down")),
		zap.ByteString("stack", []byte("goroutine 1")))
	out := buf.String()
	assert.NotContains(t, out, "not shown")
	for _, want := range []string{`"level":"ERROR"`, `"msg":"async task failed"`, `"label":"log-usage"`,
		`"error":"db down"`, `"stack":"goroutine 1"`, `"logger":"async-task"`} {
		assert.Contains(t, out, want)
	}
	assert.Nil(t, FromSlog(nil))

	panicky := FromSlog(slog.New(panicHandler{}))
	assert.NotPanics(t, func() { panicky.Error("boom") })
}

type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// slog records reach zap with their message, level and attributes.
func TestToSlog(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	l := ToSlog(zap.New(core)).With("client", "river").WithGroup("job")
	l.Debug("not shown")
	l.Warn("job failed", "kind", "usage-row", "attempt", 2)
	require.Equal(t, 1, logs.Len())
	e := logs.All()[0]
	assert.Equal(t, zap.WarnLevel, e.Level)
	assert.Equal(t, "job failed", e.Message)
	assert.Equal(t, map[string]any{"client": "river", "job.kind": "usage-row", "job.attempt": int64(2)}, e.ContextMap())
	assert.Nil(t, ToSlog(nil))
}
