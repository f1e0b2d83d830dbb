package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// Handlers serves the HTTP API.
type Handlers struct {
	sched *fxasync.Scheduler
	w     *Writers
	db    *DB
	cache *Cache
	// cacheSet writes answers to the cache, the newest per prompt: a hot
	// prompt answered 1,000 times while a write runs costs one more write.
	cacheSet *fxasync.Coalescer[string, string]
	ready    *fxshutdown.Readiness
	prom     prometheus.Gatherer
	cfg      Config
	log      *zap.Logger
	boot     string       // this process's part of request ids: unique across restarts and replicas
	seq      atomic.Int64 // request ids
	// tracer, with -trace-stdout, starts a span per request (see traced).
	tracer trace.Tracer
	bodies *bodyBudget // large request bodies being read
}

// NewHandlers builds the handlers.
func NewHandlers(s *fxasync.Scheduler, w *Writers, db *DB, c *Cache, r *fxshutdown.Readiness, g prometheus.Gatherer,
	cfg Config, log *zap.Logger) *Handlers {
	boot := strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatUint(uint64(rand.Uint32()), 36)
	cacheSet := fxasync.NewCoalescer(s, "cache-set", func(_ context.Context, prompt, answer string) error {
		return c.Set(prompt, answer)
	}, fxasync.CoalescerConfig{})
	return &Handlers{sched: s, w: w, db: db, cache: c, cacheSet: cacheSet, ready: r, prom: g, cfg: cfg, log: log, boot: boot,
		bodies: &bodyBudget{max: cfg.MaxBodyBytes}}
}

// Routes returns the service's routes.
func (h *Handlers) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.budgeted(h.chat))
	mux.HandleFunc("POST /v1/traces", h.budgeted(h.traces))
	mux.HandleFunc("POST /v1/traces/stream", h.budgeted(h.traceStream))
	mux.Handle("GET /healthz", fxasync.HealthHandler(h.sched, h.cfg.StuckAfter))
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.prom, promhttp.HandlerOpts{}))
	mux.Handle("GET /readyz", h.ready.Handler())
	mux.Handle("GET /livez", fxshutdown.LivenessHandler())
	mux.Handle("GET /debug/tasks", fxasync.DebugHandler(h.sched))
	return h.traced(mux)
}

// budgeted reads a large body only while the body budget has room for it,
// and answers 503 otherwise: memory follows the budget, not the clients.
func (h *Handlers) budgeted(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		give := h.bodies.take(r)
		if give == nil {
			overloaded(w, "too many large request bodies are being read")
			return
		}
		defer give()
		next(w, r)
	}
}

// apiError is the body of every 4xx and 5xx answer.
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, newAPIError(status, msg))
}

func newAPIError(status int, msg string) apiError {
	var e apiError
	e.Error.Message = msg
	e.Error.Type = "invalid_request_error"
	if status >= 500 {
		e.Error.Type = "server_error"
	}
	return e
}

// overloaded answers 503 with Retry-After: the request was refused because
// background work it needs could not be accepted.
func overloaded(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most maxBody bytes into v, rejecting
// unknown fields' absence of nothing: the answer names what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB")
		} else {
			writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		}
		return false
	}
	return true
}
