package main

// This file holds the README's handler and the database it writes to.

import (
	"context"
	"net/http"
	"sync"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/fx"
)

type Handler struct {
	sched *fxasync.Scheduler
	db    *DB
}

func NewHandler(sched *fxasync.Scheduler, db *DB) *Handler { return &Handler{sched: sched, db: db} }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	usage := Usage{Path: r.URL.Path}
	w.WriteHeader(http.StatusNoContent)
	// Runs at once on another goroutine; the request never waits for it.
	h.sched.Go(r.Context(), "log-usage", func(ctx context.Context) error {
		return h.db.InsertUsage(ctx, usage) // an error is logged with the label
	})
}

// Usage is one request's usage record.
type Usage struct{ Path string }

// DB stands for the database: it keeps rows and refuses them once closed.
type DB struct {
	mu     sync.Mutex
	rows   []Usage
	status map[string]string // NewPresence's
	closed bool
}

// OpenDB opens the database and closes it on stop.
func OpenDB(lc fx.Lifecycle) *DB {
	db := &DB{}
	lc.Append(fx.StopHook(func() { db.mu.Lock(); db.closed = true; db.mu.Unlock() }))
	return db
}

// Rows returns the rows written so far.
func (db *DB) Rows() []Usage {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]Usage(nil), db.rows...)
}

// InsertUsage writes one row.
func (db *DB) InsertUsage(_ context.Context, u Usage) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return errClosed
	}
	db.rows = append(db.rows, u)
	return nil
}

type dbError string

func (e dbError) Error() string { return string(e) }

const errClosed = dbError("database is closed")
