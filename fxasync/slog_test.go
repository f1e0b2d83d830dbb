package fxasync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

// With a *slog.Logger (Config.Slog, or the graph's when it has no
// *zap.Logger), failures and panics are logged with zap's messages and keys
// at the same levels.
func TestSlogGetsTheSameLines(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	var s *fxasync.Scheduler
	app := fxtest.New(t, fx.NopLogger, fx.Supply(l), fxasync.Module, fx.Populate(&s))
	app.RequireStart()
	s.Go(context.Background(), "log-usage", func(context.Context) error { return errors.New("db down") })
	s.Go(context.Background(), "cache-set", func(context.Context) error { panic("bad") })
	app.RequireStop()

	lines := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		lines[m["msg"].(string)] = m
	}
	failed := lines["async task failed"]
	require.NotNil(t, failed, buf.String())
	assert.Equal(t, "ERROR", failed["level"])
	assert.Equal(t, "log-usage", failed["label"])
	assert.Equal(t, "db down", failed["error"])
	panicked := lines["async task panicked"]
	require.NotNil(t, panicked, buf.String())
	assert.Equal(t, "cache-set", panicked["label"])
	assert.Equal(t, "bad", panicked["panic"])
	assert.Contains(t, panicked["stack"], "slog_test.go")
	assert.Contains(t, lines, "async tasks drained")
}

// Config.Slog without fx: a failing task writes one ERROR record, with its
// label and error.
func TestConfigSlog(t *testing.T) {
	var buf bytes.Buffer
	s := fxasync.New(fxasync.Config{Slog: slog.New(slog.NewJSONHandler(&buf, nil))})
	s.Go(context.Background(), "log-usage", func(context.Context) error { return errors.New("db down") })
	require.NoError(t, s.Drain(context.Background()))
	var errs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["level"] == "ERROR" {
			errs = append(errs, m)
		}
	}
	require.Len(t, errs, 1, buf.String())
	assert.Equal(t, "async task failed", errs[0]["msg"])
	assert.Equal(t, "log-usage", errs[0]["label"])
	assert.Equal(t, "db down", errs[0]["error"])
}
