package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Server limits: a slow or idle client cannot hold a connection, a header,
// or a file descriptor for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second // the whole request, body included
	writeTimeout      = 30 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server is the HTTP server.
type Server struct {
	srv *http.Server
	ln  *connLimit // its open connections and their states, once started
	log *zap.Logger
}

// NewServer takes the scheduler, so it is built after it: its "http-server"
// step runs before the drain, and no request can start a task once the drain
// has begun. It listens on start, so /healthz answers as soon as the service
// takes requests.
func NewServer(lc fx.Lifecycle, sd *fxshutdown.Shutdown, _ *fxasync.Scheduler, h *Handlers, cfg Config, log *zap.Logger) *Server {
	s := &Server{log: log, srv: &http.Server{
		Handler:           h.Routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}}
	s.srv.ConnState = func(c net.Conn, state http.ConnState) { s.ln.track(c, state) }
	lc.Append(fx.StartHook(func() error {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return err
		}
		s.ln = newConnLimit(ln, max(cfg.MaxConns, 1))
		log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Int("max_conns", cfg.MaxConns))
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server failed", zap.Error(err))
			}
		}()
		return nil
	}))
	sd.Add(fxshutdown.Step{Name: "http-server", Run: s.shutdown})
	return s
}

// shutdown stops listening and waits for in-flight requests until shortly
// before the step's bound; then it closes the connections left (slow bodies,
// stalled clients), says how many, and lets the stop go on in time.
//
// Connections that have not sent a request yet are closed at once: Go's
// Shutdown waits up to 5 s for them, and HTTP clients leave such
// connections behind (dialled while a request waited, then not needed), so a
// stop would wait for requests that never come. The listener is closed and
// readiness is down by now: nothing should still be sending.
func (s *Server) shutdown(ctx context.Context) error {
	graceful := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		graceful, cancel = context.WithDeadline(ctx, deadline.Add(-time.Until(deadline)/5))
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(graceful) }()
	if n := s.ln.closeNew(); n > 0 {
		s.log.Info("closed connections that had sent no request", zap.Int("connections", n))
	}
	if err := <-done; err == nil {
		return nil
	}
	left := s.ln.count()
	err := s.srv.Close()
	s.log.Warn("closed connections still open at the http-server step's bound", zap.Int("connections", left))
	return err
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string { return s.ln.Addr().String() }
