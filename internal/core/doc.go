// Package core is the fx-free engine behind fxasync: it admits, queues, runs,
// counts and drains background tasks.
//
// The public API lives in package fxasync, a thin layer over [Engine]. This
// package is internal so that its shape can follow performance work without
// breaking users.
//
// # How a task moves
//
// [Engine.Submit] admits the task with one atomic add on the engine's state word
// (pending count plus drain flags), allocates one record ([task], which is also
// the context the task receives) and pushes it onto a lock-free intrusive queue.
// Workers are goroutines that pop tasks and run them one after another. The
// engine keeps one invariant: while the queue is not empty, at least one worker
// is spare (not running a task) and will look at it. So a task never waits
// behind another task that blocks, exactly as with a go statement, but a burst of
// short tasks is run by a few warm goroutines instead of one new goroutine each.
// Spare workers park after a short spin and exit after an idle timeout, or when
// the engine has drained.
package core
