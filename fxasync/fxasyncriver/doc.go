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
// A request submits the task with Kind.Submit, which returns once the task
// is committed. Submissions made meanwhile share one transaction (group
// commit, see Config.Committers): each caller is answered when the
// transaction holding its task has committed, with that transaction's
// error if it failed. A kind without Before work has its tasks written in
// that transaction, by one call of its handler for all of them (a
// BatchHandler writes them with one statement): no job at all. When the
// handler fails there, the transaction is rolled back and tried again with
// that kind's tasks as River jobs, runnable at once, which River's worker
// then writes one by one.
//
// A kind with Before work (a call to another service, which must not hold
// a connection) is a River job in the commit, leased: scheduled
// Config.Lease ahead, so River's workers leave it alone for now. After the
// commit, its fast path starts at once on the fxasync.Scheduler: one task
// for the jobs of a commit, which claims them in one transaction by
// deleting them, and writes their effects in that same transaction: the
// claims and the effects commit together. A claim succeeds only for a job
// still waiting at its first attempt; otherwise River owns the job (it ran
// it, or is running it) and the fast path leaves it out. When the process
// dies, the job is still in the database, and River runs it after the
// lease — on this replica after a restart, at once when the start-up sweep
// is on (one process owning a SQLite file), or on another replica sharing
// Postgres. River's worker runs the same handler and completes the job in
// the same transaction. InsertTx puts such a job in the caller's own
// transaction.
//
// So the effect of a durable task is committed exactly once in that
// database, whatever dies when. Effects beyond the database (a mail, a call
// to another service) can happen more than once, when a run is cut off
// after them and the job runs again: handlers must make those idempotent.
//
// # Costs
//
// A durable submit costs the request its share of a commit: under load,
// tens of tasks share one, so a durable row costs a fraction of a
// transaction (see BenchmarkDurableRows and docs/durable.md). Work that may
// be lost in a crash is still cheaper through fxasync alone: it does not
// wait for a commit.
package fxasyncriver
