package fxshutdown

import (
	"net/http"
	"sync/atomic"
)

// Readiness answers a load balancer's readiness probe: ready while serving,
// not ready from the moment shutdown begins. The zero value is ready; under
// Run it is not ready until the application has started.
type Readiness struct{ notReady, starting atomic.Bool }

// SetNotReady marks the application not ready. It cannot be undone.
func (r *Readiness) SetNotReady() { r.notReady.Store(true) }

// Ready reports whether the application is serving.
func (r *Readiness) Ready() bool { return !r.starting.Load() && !r.notReady.Load() }

// Handler answers 200 "ready" while ready and 503 "shutting down" after.
func (r *Readiness) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.Ready() {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
	})
}

// LivenessHandler answers 200 "alive" for as long as the process runs,
// shutdown included: restarting a process that is stopping would lose its
// drain.
func LivenessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("alive\n"))
	})
}
