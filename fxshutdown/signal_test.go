package fxshutdown_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

const helperEnv = "FXSHUTDOWN_TEST_HELPER"

// helperMain is the program under test: one quick step and, if asked, one
// slow step that ignores its bound's first seconds.
func helperMain() int {
	mode := os.Getenv(helperEnv)
	slow := mode == "slow"
	return fxshutdown.Run(
		// fx's own warnings and errors, as the example logs them: a lossy
		// stop must not make fx log the loss again.
		fx.WithLogger(func(l *zap.Logger) fxevent.Logger {
			return &fxevent.ZapLogger{Logger: l.Named("fx").WithOptions(zap.IncreaseLevel(zap.WarnLevel))}
		}),
		fx.Provide(func() *zap.Logger { return zap.NewExample() }), // JSON on stdout
		fxshutdown.Module,
		lossOptions(mode),
		planOptions(mode),
		fx.Invoke(func(sd *fxshutdown.Shutdown, lc fx.Lifecycle) {
			sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }})
			if slow {
				sd.Add(fxshutdown.Step{Name: "slow-flush", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }, Timeout: time.Minute})
			}
			startOptions(mode, lc)
			lc.Append(fx.StartHook(func() { fmt.Println("HELPER READY") }))
		}),
	)
}

// startOptions, for modes "slow-start" and "stuck-start", add a start hook
// of 30 s that honours its context, or of 5 min that ignores it.
func startOptions(mode string, lc fx.Lifecycle) {
	switch mode {
	case "slow-start":
		lc.Append(fx.StartHook(func(ctx context.Context) error {
			fmt.Println("HELPER STARTING")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				return nil
			}
		}))
	case "stuck-start":
		lc.Append(fx.StartHook(func() { fmt.Println("HELPER STARTING"); time.Sleep(5 * time.Minute) }))
	}
}

// lossOptions, for modes "lost" and "lost-ignored", add a scheduler with one
// task that ignores its context, so the drain gives up and loses it.
func lossOptions(mode string) fx.Option {
	drain := 50 * time.Millisecond
	switch mode {
	case "lost", "lost-ignored":
	case "slow-drain":
		drain = time.Minute
	default:
		return fx.Options()
	}
	return fx.Options(
		fx.Supply(fxasync.Config{DrainTimeout: drain, Grace: 10 * time.Millisecond}),
		fx.Supply(fxshutdown.Config{IgnoreLoss: mode == "lost-ignored"}),
		fxasync.Module,
		fx.Invoke(func(s *fxasync.Scheduler, lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() {
				s.Go(context.Background(), "stuck-write", func(context.Context) error { select {} })
				for i := 0; i < 2; i++ {
					s.Go(context.Background(), "queued-write", func(context.Context) error { select {} })
				}
			}))
		}),
	)
}

// planOptions, for modes "plan" and "plan-too-long", set a termination
// grace (3 s; 1 s: too short), a readiness delay of 300 ms, steps of 500 ms
// by default, a cache step of 200 ms that ignores its context, and a drain
// (400 ms, grace 100 ms) with a task that ignores cancellation.
func planOptions(mode string) fx.Option {
	grace := 3 * time.Second
	switch mode {
	case "plan":
	case "plan-too-long":
		grace = time.Second
	default:
		return fx.Options()
	}
	return fx.Options(
		fx.Supply(fxshutdown.Config{TerminationGrace: grace, ReadinessDelay: 300 * time.Millisecond,
			StepTimeout: 500 * time.Millisecond}),
		fx.Supply(fxasync.Config{DrainTimeout: 400 * time.Millisecond, Grace: 100 * time.Millisecond}),
		fxasync.Module,
		fx.Invoke(func(s *fxasync.Scheduler, sd *fxshutdown.Shutdown, lc fx.Lifecycle) {
			sd.Add(fxshutdown.Step{Name: "cache", Run: func(context.Context) error { time.Sleep(10 * time.Second); return nil }, Timeout: 200 * time.Millisecond})
			lc.Append(fx.StartHook(func() {
				s.Go(context.Background(), "stuck-write", func(context.Context) error { select {} })
			}))
		}),
	)
}

type helper struct {
	cmd   *exec.Cmd
	lines chan string

	mu      sync.Mutex
	arrived map[string]time.Time // when a line first arrived, by its text
}

// when returns the arrival time of the first line containing s.
func (h *helper) when(s string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var first time.Time
	for l, at := range h.arrived {
		if strings.Contains(l, s) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first
}

func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	return startHelperUntil(t, mode, `"msg":"application started"`) // Start has returned: a signal now stops it
}

func startHelperUntil(t *testing.T, mode, ready string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	h := &helper{cmd: cmd, lines: make(chan string, 100), arrived: map[string]time.Time{}}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.mu.Lock()
			if _, seen := h.arrived[sc.Text()]; !seen {
				h.arrived[sc.Text()] = time.Now()
			}
			h.mu.Unlock()
			h.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	h.waitFor(t, ready)
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
	out += h.rest()
	assert.Equal(t, 1, strings.Count(out, "signal received: shutting down"), "one line per signal:\n%s", out)
	assert.NotContains(t, out, "shutdown requested", "fx saw the same signal: not a second reason")
	assert.Equal(t, fxshutdown.ExitOK, h.exitCode(t))
}

// rest reads the helper's output to its end.
func (h *helper) rest() string {
	var b strings.Builder
	for l := range h.lines {
		b.WriteString(l + "\n")
	}
	return b.String()
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

// A stop that loses tasks says so in its summary, with the count, and
// exits with ExitLost; with IgnoreLoss it exits 0 and still says so.
func TestSubprocessLostTasksExitNonZero(t *testing.T) {
	for mode, code := range map[string]int{"lost": fxshutdown.ExitLost, "lost-ignored": fxshutdown.ExitOK} {
		h := startHelper(t, mode)
		require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
		out := h.waitFor(t, "shutdown finished")
		summary := lastLineWith(out, "shutdown finished")
		assert.Contains(t, summary, `"lost":3`, mode)
		assert.Contains(t, summary, `async-tasks: lost 3 (fxasync: lost 3: [queued-write: 2 (running 2, queued 0, rejected 0), stuck-write: 1 (running 1, queued 0, rejected 0)])`, mode)
		out += h.rest()
		assert.Equal(t, 1, strings.Count(out, `"level":"error"`), "the loss is logged once at ERROR, the summary:\n%s", out)
		assert.Contains(t, summary, `"level":"error"`, mode)
		assert.Contains(t, out, "see the summary above", mode)
		assert.Equal(t, code, h.exitCode(t), mode)
	}
}

// A second signal during a drain exits at once and logs how many pending
// tasks it dropped.
func TestSubprocessForcedExitLogsDroppedTasks(t *testing.T) {
	h := startHelper(t, "slow-drain")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	h.waitFor(t, `"msg":"draining async tasks"`)
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	out := h.waitFor(t, "second signal during shutdown: exiting now")
	assert.Contains(t, lastLineWith(out, "second signal"), `"dropped_pending":3`)
	for range h.lines {
	}
	assert.Equal(t, 128+int(syscall.SIGTERM), h.exitCode(t))
}

func lastLineWith(out, s string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// With a termination grace, the plan is logged at start; a SIGTERM with a
// task that ignores cancellation and a step that ignores its context ends
// every phase within its slice (±50 ms) and exits before the grace minus
// the margin.
func TestSubprocessPlanKeepsEachPhaseInItsSlice(t *testing.T) {
	h := startHelper(t, "plan")
	sent := time.Now()
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	out := h.waitFor(t, "shutdown finished")
	for range h.lines {
	}
	code := h.exitCode(t)
	exited := time.Since(sent)
	plan := h.when(`"msg":"shutdown plan"`)
	require.False(t, plan.IsZero(), "the plan is logged at start")

	const slack = 50 * time.Millisecond
	readiness := h.when(`"step":"cache","bound"`).Sub(h.when(`"msg":"not ready; waiting before stopping"`))
	assert.InDelta(t, 300*time.Millisecond, readiness, float64(slack), "readiness delay")
	assert.InDelta(t, 200*time.Millisecond, took(t, out, `"msg":"shutdown step abandoned","step":"cache"`), float64(slack), "cache")
	drain := took(t, out, `"step":"async-tasks","took"`)
	assert.InDelta(t, 500*time.Millisecond, drain, float64(slack), "drain: 400 ms, then its 100 ms grace")
	assert.Less(t, exited, 3*time.Second-time.Second, "exits before the grace minus the margin")
	assert.Equal(t, fxshutdown.ExitFailed, code, "the cache step overran")
	assert.Contains(t, lastLineWith(out, "shutdown finished"), `"lost":1`, "the stuck task is lost, and said so")
}

// A plan that does not fit fails the start, with the numbers.
func TestSubprocessPlanThatDoesNotFitFailsTheStart(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=plan-too-long")
	out, err := cmd.Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, fxshutdown.ExitFailed, ee.ExitCode())
	assert.Contains(t, string(out), "the shutdown plan does not fit: not starting")
	assert.Contains(t, string(out), "termination grace is 1s")
	assert.NotContains(t, string(out), "HELPER READY")
}

// took reads the "took" of the log line containing s.
func took(t *testing.T, out, s string) time.Duration {
	t.Helper()
	var l struct{ Took string } // zap's example logger writes durations as strings
	line := lastLineWith(out, s)
	require.NotEmpty(t, line, "no line with %s in:\n%s", s, out)
	require.NoError(t, json.Unmarshal([]byte(line), &l))
	d, err := time.ParseDuration(l.Took)
	require.NoError(t, err, line)
	return d
}

// A signal during the start cancels it: the process exits at once, not
// after its start hooks (migrations waiting on a lock can take 15 s).
func TestSubprocessSignalDuringStartCancelsIt(t *testing.T) {
	h := startHelperUntil(t, "slow-start", "HELPER STARTING")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	out := h.waitFor(t, "start cancelled")
	assert.Contains(t, out, `"signal":"terminated"`)
	for range h.lines {
	}
	assert.Equal(t, fxshutdown.ExitFailed, h.exitCode(t))
}

// A start hook that ignores its context does not hold the exit up either:
// fx gives up on it when the start is cancelled.
func TestSubprocessSignalDuringStuckStart(t *testing.T) {
	h := startHelperUntil(t, "stuck-start", "HELPER STARTING")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGTERM))
	h.waitFor(t, "start cancelled") // within 30 s, not after the hook's 5 min
	for range h.lines {
	}
	assert.Equal(t, fxshutdown.ExitFailed, h.exitCode(t))
}
