package logx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
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
