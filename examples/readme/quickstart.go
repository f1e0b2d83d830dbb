package main

// This file holds the README's quick start: an fx application with fxasync.

import (
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

func newApp() *fx.App {
	return fx.New(
		fx.Provide(newLogger), // optional: without a *zap.Logger, failures go to stderr
		fx.WithLogger(func(log *zap.Logger) fxevent.Logger { // fx's own lines, through the same logger
			return &fxevent.ZapLogger{Logger: log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))}
		}),
		fxasync.Module,             // provides *fxasync.Scheduler, drains it on stop
		fxasync.DrainBefore[*DB](), // drain before the database closes, whatever the parameter order
		fx.Provide(OpenDB, NewHandler),
		fx.Invoke(func(*Handler) {}), // build the handler, and so what it needs
	)
}

// newLogger logs every failure: zap.NewProduction samples repeated lines, so
// 300 failing tasks would log about a hundred.
func newLogger() (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Sampling = nil
	return cfg.Build()
}

var configured = fx.Supply(fxasync.Config{DrainTimeout: 3 * time.Second, MaxPending: 10_000})
