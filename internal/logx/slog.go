package logx

// This file holds the bridge to log/slog: a zap core that writes to a
// slog.Handler, so that the library logs through one path (zap, its fast
// path) and an application that uses slog gets the same messages and keys.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// FromSlog returns a *zap.Logger that writes to l's handler: the same
// messages, the same keys (label, error, panic, stack, …) and levels (zap's
// DPanic and above are slog's Error), the logger's name under "logger". A
// handler that panics is recovered: the entry is lost and zap reports the
// write error on stderr. A nil l gives nil.
func FromSlog(l *slog.Logger) *zap.Logger {
	if l == nil {
		return nil
	}
	return zap.New(slogCore{h: l.Handler()})
}

type slogCore struct {
	h     slog.Handler
	attrs []slog.Attr // from With
}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fs []zapcore.Field) zapcore.Core {
	return slogCore{h: c.h, attrs: append(slices.Clip(c.attrs), attrsOf(fs)...)}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fs []zapcore.Field) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("slog handler panicked: %s", Value(r))
		}
	}()
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(c.attrs...)
	r.AddAttrs(attrsOf(fs)...)
	return c.h.Handle(context.Background(), r)
}

func (slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// attrsOf renders zap fields as slog attributes, sorted by key.
func attrsOf(fs []zapcore.Field) []slog.Attr {
	if len(fs) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fs {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	return attrs
}
