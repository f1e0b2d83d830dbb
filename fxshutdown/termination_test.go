package fxshutdown_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

type lossErr struct{ n int }

func (e lossErr) Error() string  { return "lost some" }
func (e lossErr) LostTotal() int { return e.n }

// The summary is written as the termination message: a headline with the
// failures and losses, then one line per step.
func TestTerminationMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	sd := fxshutdown.New(fxshutdown.Config{TerminationLog: path, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }})
	sd.Add(fxshutdown.Step{Name: "async-tasks", Run: func(context.Context) error { return lossErr{3} }})
	sd.Add(fxshutdown.Step{Name: "durable-handoff", Run: func(ctx context.Context) error {
		fxshutdown.Note(ctx, "handed off 12 task(s) to River")
		return nil
	}})
	require.Error(t, sd.Stop(context.Background()))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	msg := string(b)
	assert.Regexp(t, `^shutdown finished in \S+: 1 step\(s\) failed, lost 3\n`, msg)
	assert.Contains(t, msg, "durable-handoff: ok (handed off 12 task(s) to River) in ")
	assert.Contains(t, msg, "async-tasks: lost 3 (lost some) in ")
	assert.Contains(t, msg, "database: ok in ")
}

// A long summary is cut to Kubernetes' 4,096 bytes, at a rune boundary, and
// says so; the environment variable overrides the configured path.
func TestTerminationMessageBoundsAndPaths(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "from-env")
	t.Setenv(fxshutdown.TerminationLogEnv, env)
	sd := fxshutdown.New(fxshutdown.Config{TerminationLog: filepath.Join(dir, "from-config"), Logger: zap.NewNop()})
	for i := 0; i < 100; i++ {
		sd.Add(fxshutdown.Step{Name: "step-é", Run: func(context.Context) error { return errors.New(strings.Repeat("é", 40)) }})
	}
	require.Error(t, sd.Stop(context.Background()))
	b, err := os.ReadFile(env)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), 4096)
	assert.True(t, utf8.Valid(b))
	assert.True(t, strings.HasSuffix(string(b), "…(cut)\n"))
	_, err = os.Stat(filepath.Join(dir, "from-config"))
	assert.True(t, os.IsNotExist(err), "the environment variable wins")

}

// By default the message goes to Kubernetes' path only where the pod has
// it: elsewhere nothing is created.
func TestTerminationMessageDefaultOnlyInAPod(t *testing.T) {
	if _, err := os.Stat(fxshutdown.DefaultTerminationLog); err == nil {
		t.Skip(fxshutdown.DefaultTerminationLog + " exists: this runs in a pod")
	}
	t.Setenv(fxshutdown.TerminationLogEnv, "")
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	require.NoError(t, sd.Stop(context.Background()))
	_, err := os.Stat(fxshutdown.DefaultTerminationLog)
	assert.True(t, os.IsNotExist(err))
}
