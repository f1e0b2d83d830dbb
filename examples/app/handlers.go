package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// Handlers serves the HTTP API.
type Handlers struct {
	sched *fxasync.Scheduler
	db    *DB
	cache *Cache
	ready *fxshutdown.Readiness
	prom  prometheus.Gatherer
	cfg   Config
	log   *zap.Logger
	seq   atomic.Int64 // request ids
}

// NewHandlers builds the handlers.
func NewHandlers(s *fxasync.Scheduler, db *DB, c *Cache, r *fxshutdown.Readiness, g prometheus.Gatherer,
	cfg Config, log *zap.Logger) *Handlers {
	return &Handlers{sched: s, db: db, cache: c, ready: r, prom: g, cfg: cfg, log: log}
}

// Routes returns the service's routes.
func (h *Handlers) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.chat)
	mux.HandleFunc("POST /v1/traces", h.traces)
	mux.HandleFunc("POST /v1/traces/stream", h.traceStream)
	mux.Handle("GET /healthz", fxasync.HealthHandler(h.sched, h.cfg.StuckAfter))
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.prom, promhttp.HandlerOpts{}))
	mux.Handle("GET /readyz", h.ready.Handler())
	mux.HandleFunc("GET /debug/tasks", h.debugTasks)
	return mux
}

func (h *Handlers) debugTasks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"pending": h.sched.Pending(), "running": h.sched.Running(), "stats": h.sched.Stats(),
	})
}

// apiError is the body of every 4xx and 5xx answer.
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	var e apiError
	e.Error.Message = msg
	e.Error.Type = "invalid_request_error"
	if status >= 500 {
		e.Error.Type = "server_error"
	}
	writeJSON(w, status, e)
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
