package fxasynctest

// This file holds Wait.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/internal/kit"
)

// Wait returns once no task of s is pending and every batcher of s has
// written what it held (Wait writes it now, not after MaxDelay; a
// Coalescer's delayed values too), without
// closing s: the test can assert, submit more and Wait again. With a test
// Clock, tasks waiting for a retry's backoff and batchers waiting for one
// are not waited for — they wait for the clock; Advance it, then Wait.
// Past DrainTimeout (5 s, for a scheduler not from New too) Wait fails the
// test with what is still pending.
func Wait(t testing.TB, s *fxasync.Scheduler) {
	t.Helper()
	o := optionsOf(nil)
	if k, ok := tests.Load(s); ok {
		o = k.(*test).o
	}
	v := kit.Of(s)
	e, onClock := v.Engine(), o.clock != nil
	idle := func() bool {
		quiet := v.Flush(onClock)
		busy := e.Pending()
		if onClock {
			busy -= e.Retrying()
		}
		return quiet && busy <= 0
	}
	if !poll(o.bound, idle) {
		t.Fatalf("fxasynctest.Wait: still pending after %v:%s", o.bound, pending(s))
	}
}

// pending lists what s has in hand: running tasks, then labels with
// pending tasks, then batchers with pending items.
func pending(s *fxasync.Scheduler) string {
	var b strings.Builder
	b.WriteString(running(s.Running()))
	for _, l := range s.Stats().Labels {
		if l.Pending > 0 {
			fmt.Fprintf(&b, "\n\tlabel %q: %d pending", l.Label, l.Pending)
		}
	}
	for _, bs := range s.Batchers() {
		if bs.Pending > 0 {
			fmt.Fprintf(&b, "\n\tbatcher %q: %d items pending", bs.Label, bs.Pending)
		}
	}
	return b.String()
}
