// Package fxasync runs background work in a server — usage logging, trace
// ingestion, cache writes — so that it never delays the response, never fails
// or crashes the request, and is not lost when the process stops.
//
// A [Scheduler] is related to [sync.WaitGroup] and to errgroup: [Scheduler.Go]
// starts a labelled task and returns at once, [Scheduler.Drain] waits for every
// task, with a bound. Unlike errgroup, a task's error or panic never reaches
// the caller: it is logged with the task's label and counted in [Stats].
//
// Configure a Scheduler with one [Config]: every field's comment gives its
// default, which a zero field takes, and a negative value (such as
// [Unbounded]) says "none" where zero is meaningful. Code runs around every
// task through [Middleware] (tracing, retries), in the order the Config
// lists it.
//
// In an uber/fx application, include [Module]: it provides the *Scheduler and
// drains it when the application stops. Use [DrainBefore] for each resource
// that tasks use (a cache, a pool, a database), so the drain runs before that
// resource stops. Without fx, call [New] and Drain yourself.
//
// # Contract
//
//   - Go returns at once; fn runs on another goroutine. The caller waits only
//     when the scheduler is full: it is bounded by default (10,000 pending
//     tasks, half of them at most for one label: Config.MaxPending and
//     Config.LabelLimit); Go then waits up to Config.MaxWait (1 s) and
//     refuses.
//     Refusals are counted and logged once per label per second. A follow-up
//     from a running task never waits.
//   - fn's context keeps the values of the caller's context (trace IDs, loggers)
//     but not its cancellation: the request ending does not cancel its
//     background work. The scheduler cancels it at the drain bound.
//   - An error returned by fn is logged once at ERROR, with fields label and
//     error. A panic is recovered and logged at ERROR with the label, the panic
//     value and the stack; so is a call to runtime.Goexit. Nothing reaches the
//     caller.
//   - Drain stops admitting new tasks, except those that running tasks submit
//     with their own context (follow-up work; a task that has finished
//     vouches for nothing), and waits for every task. Its bound is the drain
//     timeout (default 5 s); when the context has a deadline, the bound ends
//     early enough that the grace fits before it. At the bound it cancels the
//     tasks' contexts, waits a short grace (default 250 ms), logs one warning
//     naming each task still running, and returns a [*DrainError] that wraps
//     context.DeadlineExceeded.
//   - Labels are cleaned once, at submission: invalid UTF-8 becomes U+FFFD,
//     a label is cut to [MaxLabelBytes], "" is [UnlabeledLabel]. Log lines,
//     Stats and metrics see only clean labels. Rendering a panic value or an
//     error for the log never panics, and a logger that panics costs its line,
//     not the process.
//   - Pending counts tasks admitted and not finished; Running lists the ones
//     on a worker now. Stats uses the same words.
//   - For items written in batches (usage rows, events), use a [Batcher]: its
//     room is bounded by what it can write before a stop, and the drain
//     writes everything it accepted.
//   - What a stop lost is a number per label ([DrainStats].Lost); with
//     fxshutdown the summary says "async-tasks: lost N" and Run exits 3.
//   - A submission refused because of a drain is logged at ERROR by Go, and
//     returned as an error that matches [ErrClosed] by TryGo. It is counted as
//     rejected. A submission that races with Drain is either run and waited for,
//     or refused: never run untracked.
package fxasync
