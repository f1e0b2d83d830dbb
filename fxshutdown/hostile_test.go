package fxshutdown_test

// This file tests the stop against what a user can pass in: errors whose
// methods panic, invalid UTF-8, a termination log that is a FIFO, and
// environment values that overflow.

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type panickyErr struct{}

func (panickyErr) Error() string { panic("Error() broke") }

type goexitErr struct{}

func (goexitErr) Error() string { runtime.Goexit(); return "" }

type panickyLoss struct{ panickyErr }

func (panickyLoss) LostTotal() int { panic("LostTotal broke") }

// A step whose error's methods panic (or call runtime.Goexit) is reported
// as failed, rendered by the bounded renderer: the stop does not crash.
func TestStepErrorWhoseMethodsPanic(t *testing.T) {
	obs, logs := observer.New(zap.DebugLevel)
	path := filepath.Join(t.TempDir(), "termination-log")
	sd := fxshutdown.New(fxshutdown.Config{TerminationLog: path, Logger: zap.New(obs)})
	sd.Add(fxshutdown.Step{Name: "panicky", Run: func(context.Context) error { return panickyErr{} }})
	sd.Add(fxshutdown.Step{Name: "exits", Run: func(context.Context) error { return goexitErr{} }})
	sd.Add(fxshutdown.Step{Name: "loss", Run: func(context.Context) error { return panickyLoss{} }})
	var err error
	require.NotPanics(t, func() { err = sd.Stop(context.Background()) })
	require.Error(t, err)
	assert.Equal(t, 3, logs.FilterMessage("shutdown step failed").Len())
	summary := logs.FilterMessage("shutdown finished").All()
	require.Len(t, summary, 1)
	assert.Equal(t, int64(3), summary[0].ContextMap()["failed"])
	b, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Contains(t, string(b), "panicky: (fxshutdown_test.panickyErr value: rendering it panicked) in ")
	assert.Contains(t, string(b), "exits: (fxshutdown_test.goexitErr value: rendering it called runtime.Goexit) in ")
}

// A termination log that is a FIFO with no reader is not written, and the
// stop goes on: it used to block on open, under the shutdown's lock,
// forever.
func TestTerminationLogFIFODoesNotHangTheStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o644))
	obs, logs := observer.New(zap.DebugLevel)
	sd := fxshutdown.New(fxshutdown.Config{TerminationLog: path, Logger: zap.New(obs)})
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }})
	done := make(chan error, 1)
	go func() { done <- sd.Stop(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the stop hangs on a FIFO")
	}
	warn := logs.FilterMessage("termination message not written").All()
	require.Len(t, warn, 1)
	assert.Contains(t, warn[0].ContextMap()["error"], "not a regular file")
	assert.Len(t, sd.Outcomes(), 1, "Outcomes does not wait for the write either")
}

// One invalid UTF-8 byte in a step's name or error no longer cuts the
// message to a stub: it is cleaned first, then cut at a rune boundary.
func TestTerminationMessageInvalidUTF8(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	sd := fxshutdown.New(fxshutdown.Config{TerminationLog: path, Logger: zap.NewNop()})
	for i := 0; i < 60; i++ {
		sd.Add(fxshutdown.Step{Name: "step-\xff", Run: func(context.Context) error { return errors.New("bad \xfe byte " + strings.Repeat("é", 40)) }})
	}
	require.Error(t, sd.Stop(context.Background()))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, utf8.Valid(b))
	assert.Greater(t, len(b), 4000, "cut near the limit, not to a stub")
	assert.LessOrEqual(t, len(b), 4096)
	assert.True(t, strings.HasSuffix(string(b), "…(cut)\n"))
}

// Negative or overflowing durations in the environment are ignored with a
// warning; huge step bounds saturate instead of wrapping into a plan that
// fits.
func TestPlanRejectsNegativeAndOverflowingValues(t *testing.T) {
	for _, v := range []string{"18446744074", "9999999999", "-5", "-1000h", "99999999999h"} {
		t.Setenv(fxshutdown.TerminationGraceEnv, v)
		t.Setenv(fxshutdown.PreStopEnv, v)
		obs, logs := observer.New(zap.DebugLevel)
		sd := fxshutdown.New(fxshutdown.Config{TerminationGrace: 10 * s, PreStop: 0, StepTimeout: 3 * s, Logger: zap.New(obs)})
		p := sd.Plan(0)
		assert.Equal(t, 10*s, p.Grace, v)
		assert.Zero(t, p.PreStop, v)
		assert.Equal(t, 2, logs.FilterMessage("ignoring an unreadable duration").Len(), v)
	}
	t.Setenv(fxshutdown.TerminationGraceEnv, "")
	t.Setenv(fxshutdown.PreStopEnv, "-1000h") // used to let a 1 h step pass a 10 s grace
	sd := fxshutdown.New(fxshutdown.Config{TerminationGrace: 10 * s, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "long", Run: func(context.Context) error { return nil }, Timeout: time.Hour})
	assert.Error(t, sd.Plan(0).Check())
	huge := fxshutdown.Plan{Grace: 10 * s, Steps: []fxshutdown.PlannedStep{{"a", math.MaxInt64}, {"b", math.MaxInt64}}}
	assert.Equal(t, time.Duration(math.MaxInt64), huge.Total())
	assert.Error(t, huge.Check())
}
