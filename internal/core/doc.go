// Package core is the fx-free engine behind fxasync: it admits, queues, runs,
// counts and drains background tasks.
//
// The public API lives in package fxasync, a thin layer over [Engine]. This
// package is internal so that its shape can follow performance work without
// breaking users.
//
// # Parts
//
// Each part is one file that owns its fields and states its invariant at the
// top; data flows one way, from the engine down.
//
//	          Go / TryGo                         Drain
//	              │                                │
//	engine.go ────┼── CleanLabel, labels.get ──▶ labels.go, stats.go   (counters)
//	              ├── gate.enter ──────────────▶ gate.go               (admission, drain states)
//	              ├── new task ────────────────▶ task.go, ctxkey.go    (the task and its context)
//	              └── pool.push ───────────────▶ pool.go, queue.go     (workers)
//	                                                │
//	                          worker: run.go (call, recover, count, log)
//	                                                │
//	                      engine.finish ──▶ gate.leave ──▶ last one out wakes drain.go
//
// Where to make a change:
//   - a new admission rule (a limit, a policy for a full engine): gate.go
//     for the drain's states, engine.go's admit for what runs before it;
//   - a new outcome counter: stats.go (Counters, LabelStats) and run.go,
//     where outcomes are decided;
//   - a new worker policy (spinning, parking, idle exit): pool.go.
//
// # How a task moves
//
// [Engine.Go] cleans the label, finds its counters, passes the gate (one
// load and one add on the state word while open), allocates one record
// ([task], which is also the context the task receives) and pushes it on a
// lock-free intrusive queue. Workers pop tasks and run them one after another.
// While the queue is not empty at least one worker is spare, so a task never
// waits behind another task that blocks, as with a go statement, but a burst
// of short tasks is run by a few warm goroutines instead of one new goroutine
// each. When a task ends, the gate counts it out; the last one out of a drain
// wakes Drain.
package core
