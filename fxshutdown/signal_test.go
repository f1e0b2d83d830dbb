package fxshutdown_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

const helperEnv = "FXSHUTDOWN_TEST_HELPER"

// helperMain is the program under test: one quick step and, if asked, one
// slow step that ignores its bound's first seconds.
func helperMain() int {
	slow := os.Getenv(helperEnv) == "slow"
	return fxshutdown.Run(
		fx.NopLogger,
		fx.Provide(func() *zap.Logger { return zap.NewExample() }), // JSON on stdout
		fxshutdown.Module,
		fx.Invoke(func(sd *fxshutdown.Shutdown, lc fx.Lifecycle) {
			sd.Add("database", func(context.Context) error { return nil })
			if slow {
				sd.Add("slow-flush", func(ctx context.Context) error { <-ctx.Done(); return nil },
					fxshutdown.WithTimeout(time.Minute))
			}
			lc.Append(fx.StartHook(func() { fmt.Println("HELPER READY") }))
		}),
	)
}

type helper struct {
	cmd   *exec.Cmd
	lines chan string
}

func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	h := &helper{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	h.waitFor(t, "HELPER READY")
	return h
}

// waitFor reads lines until one contains s, and returns everything read.
func (h *helper) waitFor(t *testing.T, s string) string {
	t.Helper()
	var seen strings.Builder
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper exited before %q; output:\n%s", s, seen.String())
			}
			seen.WriteString(l + "\n")
			if strings.Contains(l, s) {
				return seen.String()
			}
		case <-timeout:
			t.Fatalf("no %q within 30s; output:\n%s", s, seen.String())
		}
	}
}

func (h *helper) exitCode(t *testing.T) int {
	t.Helper()
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

func TestSubprocessSIGTERMStopsGracefully(t *testing.T) {
	h := startHelper(t, "quick")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	out := h.waitFor(t, "shutdown finished")
	assert.Contains(t, out, `"signal":"terminated"`)
	assert.Contains(t, out, `database: ok in`)
	for range h.lines {
	}
	assert.Equal(t, fxshutdown.ExitOK, h.exitCode(t))
}

func TestSubprocessSecondSIGTERMForcesExit(t *testing.T) {
	h := startHelper(t, "slow")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	h.waitFor(t, `"step":"slow-flush"`) // the slow step has started
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	out := h.waitFor(t, "second signal during shutdown: exiting now")
	assert.Contains(t, out, `"exit_code":143`)
	for range h.lines {
	}
	assert.Equal(t, 128+int(syscall.SIGTERM), h.exitCode(t))
}
