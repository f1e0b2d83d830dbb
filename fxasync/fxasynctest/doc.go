// Package fxasynctest is fxasync's test kit: a real Scheduler for a test,
// whose logs go to the test's log, drained when the test ends, and which
// fails the test — never hangs it — when a task is stuck, failed, panicked
// or was refused.
//
//	s := fxasynctest.New(t)
//	handler := newHandler(s)         // fires s.Go(…) per request
//	handler.ServeHTTP(w, r)
//	fxasynctest.Wait(t, s)           // every task done, batchers written
//	// assert on what the tasks wrote; submit more; Wait again.
//
// [Wait] waits without closing the scheduler; [Inline] runs each task on
// the caller before Go returns; [Clock] moves time on by hand, so a 30 s
// backoff or batch delay passes in a millisecond; [Module] puts the kit's
// scheduler into an fxtest app in place of fxasync.Module.
//
// Counting needs no helper: s.Stats() has every label's submitted,
// succeeded, failed, panicked and rejected tasks, exact once Wait returns.
package fxasynctest
