// Package fxasyncriver makes chosen background work durable: it survives a
// drain that runs out of time, a SIGKILL and a crash, and its effect is
// written exactly once in the database, by handing the work to River
// (github.com/riverqueue/river) only when memory cannot keep the promise.
//
// It is its own module (Go 1.26, as River and modernc.org/sqlite need), so
// that users of fxasync who do not need durability never download River.
//
// # How a durable task runs
//
// A kind is registered once with its args type and one handler that writes
// the task's effect inside a *sql.Tx it is given:
//
//	usage := fxasyncriver.Register(h, sched, func(ctx context.Context, tx *sql.Tx, u UsageArgs) error { … })
//
// A request inserts the task as a River job in its own transaction, leased:
// scheduled Config.Lease ahead, so River's workers leave it alone for now.
// After the commit, Job.Run starts it at once on the fxasync.Scheduler (the
// fast path). The task claims its job in its own transaction by deleting
// it, and writes its effect in that same transaction: the claim and the
// effect commit together. A claim succeeds only for a job still waiting at
// its first attempt; otherwise River owns the job (it ran it, or is running
// it) and the fast path drops its result. When the process dies, the job is
// still in the database, and River runs it after the lease — on this replica
// after a restart, at once when the start-up sweep is on (one process owning
// a SQLite file), or on another replica sharing Postgres. River's worker
// runs the same handler and completes the job in the same transaction.
//
// So the effect of a durable task is committed exactly once in that
// database, whatever dies when. Effects beyond the database (a mail, a call
// to another service) can happen more than once, when a run is cut off
// after them and the job runs again: handlers must make those idempotent.
//
// # Costs
//
// A durable submit costs the request a database transaction (the job row;
// or a row in the request's own transaction with InsertTx), and the fast
// path one more transaction, which carries the task's own writes anyway.
// Work that may be lost in a crash is cheaper through fxasync alone.
package fxasyncriver
