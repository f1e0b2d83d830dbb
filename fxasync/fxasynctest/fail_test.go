package fxasynctest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const helperEnv = "FXASYNCTEST_HELPER"

// TestHelper is the test a child process runs: it fails in the way its
// mode asks, and the parent reads its exit and output.
func TestHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("run by the tests below in a child process")
	}
	switch mode {
	case "stuck":
		s := fxasynctest.New(t, fxasynctest.DrainTimeout(300*time.Millisecond))
		s.Go(context.Background(), "stuck-write", func(context.Context) error { select {} })
	case "stuck-on-clock":
		s := fxasynctest.New(t, fxasynctest.DrainTimeout(300*time.Millisecond), fxasynctest.WithClock(fxasynctest.NewClock()))
		s.Go(context.Background(), "stuck-write", func(context.Context) error { select {} })
	case "failed":
		s := fxasynctest.New(t)
		s.Go(context.Background(), "cache-set", func(context.Context) error { return errors.New("redis: connection refused") })
	case "panicked":
		s := fxasynctest.New(t)
		s.Go(context.Background(), "cache-set", func(context.Context) error { panic("nil map") })
	case "wait":
		s := fxasynctest.New(t, fxasynctest.DrainTimeout(300*time.Millisecond))
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.Go(context.Background(), "slow-write", func(context.Context) error { <-release; return nil })
		fxasynctest.Wait(t, s)
		t.Log("HELPER AFTER WAIT") // never: Wait failed the test
	}
}

// child runs TestHelper in mode and returns its exit code and output.
func child(t *testing.T, mode string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelper$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err, "%s", out)
	return 0, string(out)
}

// A stuck task fails the test within the bound, never hangs it, naming
// its label, age and the line that submitted it; on the test's clock too.
func TestStuckTaskFailsTheTest(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"stuck", "stuck-on-clock"} {
		began := time.Now()
		code, out := child(t, mode)
		assert.NotZero(t, code, "%s: the test failed:\n%s", mode, out)
		assert.Contains(t, out, "fxasynctest: the drain did not finish within 300ms", mode)
		assert.Contains(t, out, `stuck: label "stuck-write", running for`, mode)
		assert.Contains(t, out, "submitted at "+thisFile(t)+":", mode)
		assert.Less(t, time.Since(began), time.Minute, "%s: it did not hang", mode)
	}
}

// A failed or panicked task fails the test, naming its label and error.
func TestFailingTaskFailsTheTest(t *testing.T) {
	t.Parallel()
	for mode, want := range map[string]string{"failed": `error="redis: connection refused"`, "panicked": `panic="nil map"`} {
		code, out := child(t, mode)
		assert.NotZero(t, code, "%s:\n%s", mode, out)
		assert.Contains(t, out, `fxasynctest: 1 task(s) failed, panicked or were refused: "cache-set"`, mode)
		assert.Contains(t, out, want, mode)
		assert.Contains(t, out, "AllowFailures() allows them", mode)
	}
}

// With AllowFailures a failing task does not fail the test.
func TestAllowFailures(t *testing.T) {
	s := fxasynctest.New(t, fxasynctest.AllowFailures())
	s.Go(context.Background(), "cache-set", func(context.Context) error { return errors.New("down") })
	fxasynctest.Wait(t, s)
	assert.EqualValues(t, 1, statsOf(s, "cache-set").Failed)
}

// Wait fails the test past the bound with what is pending.
func TestWaitFailsWithWhatIsPending(t *testing.T) {
	t.Parallel()
	code, out := child(t, "wait")
	assert.NotZero(t, code, out)
	assert.Contains(t, out, "fxasynctest.Wait: still pending after 300ms")
	assert.Contains(t, out, `stuck: label "slow-write"`)
	assert.Contains(t, out, `label "slow-write": 1 pending`)
	assert.NotContains(t, out, "HELPER AFTER WAIT")
}

func thisFile(t *testing.T) string {
	wd, err := os.Getwd()
	require.NoError(t, err)
	return strings.TrimSuffix(wd, "/") + "/fail_test.go"
}
