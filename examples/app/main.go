// Command app is a small model gateway built on fxasync and fxshutdown: it
// answers OpenAI-style chat completions from a local "runtime pool", logs
// usage, ingests traces and caches answers in the background, and loses none
// of that work on SIGTERM.
//
//	go run -C examples/app .                 # listens on 127.0.0.1:8080, ./app.db
//	go run -C examples/app . -log-delay 300ms -drain-timeout 3s
package main

import (
	"os"
	"runtime/debug"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncprom"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2) // flag has printed the problem and the usage
	}
	// The bounds above bound what is live; the soft limit keeps the
	// collector from letting the heap double past it (GOGC's default) under
	// a flood of large bodies, where the peak RSS was 407 MB without it.
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	os.Exit(fxshutdown.Run(options(cfg)...))
}

// options wires the service in the order a reader should copy. On stop: the
// HTTP server stops taking requests and waits for in-flight ones, then the
// background tasks drain, then the cache, the runtime pool and the database
// close.
func options(cfg Config) []fx.Option { return optionsWith(cfg, fxasync.Module) }

// optionsWith is options with scheduler in place of fxasync.Module (the
// handler tests give fxasynctest.Module).
func optionsWith(cfg Config, scheduler fx.Option) []fx.Option {
	return []fx.Option{
		// Every step at its bound: 5 + 5.3 + 5 + 1 + 1 + 1 = 18.3 s; fx's
		// default 15 s would skip the last steps (the plan says so at start
		// when a termination grace is set).
		fx.StopTimeout(stopTimeout),
		fx.Supply(cfg, cfg.asyncConfig(), cfg.shutdownConfig()),
		fx.Provide(newLogger),
		fx.WithLogger(func(l *zap.Logger) fxevent.Logger { // fx's own events: only its errors
			return &fxevent.ZapLogger{Logger: l.Named("fx").WithOptions(zap.IncreaseLevel(zap.WarnLevel))}
		}),
		fxshutdown.Module,
		scheduler,
		fxasyncprom.Module, // the scheduler's figures on /metrics
		fx.Provide(newMetrics),
		// The database, the pool and the cache are built before the scheduler,
		// so the drain runs before any of them stops.
		fxasync.DrainBefore[*DB](),
		fxasync.DrainBefore[*Pool](),
		fxasync.DrainBefore[*Cache](),
		fx.Provide(OpenDB, NewPool, NewCache, NewWriters, NewHandlers, NewServer),
		handOffOptions(cfg), // River keeps the usage rows a stop or a crash would lose
		traceOptions(cfg),   // -trace-stdout: a span per request and per task
		fx.Invoke(func(*Server) {}),
	}
}

// tracesPending bounds the trace batches waiting to be stored: each holds
// up to a 1 MiB body, so memory is bounded by this, not by the default
// bound on tasks.
const tracesPending = 64

// stopTimeout is fx's budget for every stop hook together.
const stopTimeout = 20 * time.Second

func newLogger() (*zap.Logger, error) {
	c := zap.NewProductionConfig()
	c.Sampling = nil // a stop's log must be complete
	c.DisableStacktrace = true
	return c.Build()
}
