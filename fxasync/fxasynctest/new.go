package fxasynctest

// This file holds New: a scheduler for one test, drained and checked at
// the test's end.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/internal/kit"
)

// New returns a real Scheduler whose logs go to t.Log, configured by
// WithConfig when given. When the test ends it is drained within
// DrainTimeout (5 s), and the test fails — it never hangs — when the drain
// does not finish, naming each stuck task's label, age and the file:line
// that submitted it; or, unless AllowFailures, when any task failed,
// panicked or was refused, naming its label and error.
func New(t testing.TB, opts ...Option) *fxasync.Scheduler {
	t.Helper()
	o := optionsOf(opts)
	var cfg fxasync.Config
	if o.cfg != nil {
		cfg = *o.cfg
	}
	return newFor(t, o, cfg)
}

// newFor is New with cfg, the configuration WithConfig or the graph gave.
func newFor(t testing.TB, o options, cfg fxasync.Config) *fxasync.Scheduler {
	logs := newLogs(t, cfg.Logger)
	cfg.Logger, cfg.Slog, cfg.CallSites = logs.logger, nil, true
	s := fxasync.New(cfg)
	e := kit.Of(s).Engine()
	if o.clock != nil {
		e.SetClock(&o.clock.m)
		o.clock.attach(s, o.bound)
	}
	if o.inline {
		e.SetInline()
	}
	k := &test{t: t, s: s, o: o, logs: logs}
	tests.Store(s, k)
	t.Cleanup(k.end)
	return s
}

// test is one scheduler of a test.
type test struct {
	t    testing.TB
	s    *fxasync.Scheduler
	o    options
	logs *logs
}

// tests finds the options of a scheduler from New, for Wait.
var tests sync.Map // *fxasync.Scheduler → *test

// end drains the scheduler within the bound and fails the test with what
// the drain left, and, unless allowed, with what failed.
func (k *test) end() {
	defer tests.Delete(k.s)
	defer k.logs.close() // a stuck task that logs later must not write to an ended test
	err, stuck := k.drain()
	if err != nil {
		k.t.Errorf("fxasynctest: the drain did not finish within %v: %v%s", k.o.bound, err, stuck)
	}
	if !k.o.allow {
		if msg := failures(k.s, k.logs); msg != "" {
			k.t.Errorf("fxasynctest: %s (AllowFailures() allows them)", msg)
		}
	}
}

// drain drains within the bound. With a test clock, the drain's own
// bound and grace wait on it: once the bound has passed in wall time, the
// clock is moved on until the drain ends. stuck names what was running
// at the bound.
func (k *test) drain() (err error, stuck string) {
	ctx, cancel := context.WithTimeout(context.Background(), k.o.bound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- k.s.Drain(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		stuck = running(k.s.Running())
		if k.o.clock != nil {
			k.o.clock.release(done)
		}
		err = <-done
	}
	var de *fxasync.DrainError
	if errors.As(err, &de) && stuck == "" {
		stuck = running(de.Running)
	}
	return err, stuck
}

// running lists tasks one a line: label, age, where submitted.
func running(tasks []fxasync.TaskInfo) string {
	var b strings.Builder
	for _, ti := range tasks {
		fmt.Fprintf(&b, "\n\tstuck: label %q, running for %v", ti.Label, ti.Age.Round(time.Millisecond))
		if ti.Caller != "" {
			fmt.Fprintf(&b, ", submitted at %s", ti.Caller)
		}
	}
	return b.String()
}

// failures says which labels had tasks that failed, panicked or were
// refused, with the errors logged, or "" when none did.
func failures(s *fxasync.Scheduler, logs *logs) string {
	var labels []string
	n := int64(0)
	for _, l := range s.Stats().Labels {
		if bad := l.Failed + l.Panicked + l.Rejected; bad > 0 {
			n += bad
			labels = append(labels, fmt.Sprintf("%q: %d failed, %d panicked, %d rejected", l.Label, l.Failed, l.Panicked, l.Rejected))
		}
	}
	for _, b := range s.Batchers() {
		if b.Rejected > 0 {
			n += b.Rejected
			labels = append(labels, fmt.Sprintf("batcher %q: %d items rejected", b.Label, b.Rejected))
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d task(s) failed, panicked or were refused: %s%s", n, strings.Join(labels, "; "), logs.errors())
}
