// Package fxshutdown makes an fx application's stop a named, ordered,
// bounded sequence with a record of what happened.
//
// A server's stop is a sequence: stop taking traffic, let in-flight requests
// finish, drain background tasks, then close the cache, the worker pool and
// the database. Register each as a named step with [Shutdown.Add] from the
// constructor that owns the resource. Steps run in the reverse order of
// registration, like fx's own hooks, which follow construction order: a
// resource built first stops last. Each step is logged when it starts and ends
// with its name, duration and error, runs within its own bound, and is
// abandoned with an ERROR if it overruns, so the next step still runs. One
// summary line at the end lists every step's outcome and the total time.
//
// [Run] builds and runs the application: the first SIGINT or SIGTERM marks
// the application not ready (see [Readiness]), waits the readiness delay so
// load balancers stop routing, then stops it; a second signal during the stop
// exits at once.
//
// Exit codes from Run:
//
//	0    stopped after a signal, every step succeeded
//	1    the application failed to start (a signal during the start cancels
//	     it), or a step failed or overran
//	3    every step succeeded but one reported lost work (fxasync's drain:
//	     tasks or batched items not stored); Config.IgnoreLoss makes it 0
//	130  a second SIGINT arrived during the stop (128 + 2)
//	143  a second SIGTERM arrived during the stop (128 + 15)
package fxshutdown
