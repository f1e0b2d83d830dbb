package main

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Server is the HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// NewServer takes the scheduler, so it is built after it: its "http-server"
// step runs before the drain, and no request can start a task once the drain
// has begun. It listens on start, so /healthz answers as soon as the service
// takes requests.
func NewServer(lc fx.Lifecycle, sd *fxshutdown.Shutdown, _ *fxasync.Scheduler, h *Handlers, cfg Config, log *zap.Logger) *Server {
	s := &Server{srv: &http.Server{
		Handler:           h.Routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}}
	lc.Append(fx.StartHook(func() error {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return err
		}
		s.ln = ln
		log.Info("listening", zap.String("addr", ln.Addr().String()))
		go func() {
			if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server failed", zap.Error(err))
			}
		}()
		return nil
	}))
	sd.Add("http-server", s.srv.Shutdown) // stops listening, waits for in-flight requests
	return s
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string { return s.ln.Addr().String() }
