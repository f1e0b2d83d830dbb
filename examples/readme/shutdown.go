package main

// This file holds the README's fxshutdown example: named, ordered stop steps.

import (
	"context"
	"os"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
)

func NewPool(sd *fxshutdown.Shutdown) *Pool {
	p := startPool()
	sd.Add(fxshutdown.Step{Name: "runtime-pool", Run: p.Close}) // a step is a func(context.Context) error
	return p
}

func NewCache(sd *fxshutdown.Shutdown, p *Pool) *Cache {
	c := newCache(p) // built after the pool it uses, so it stops before it
	sd.Add(fxshutdown.Step{Name: "cache", Run: c.Flush, Timeout: 2 * time.Second})
	return c
}

// On stop: http-server, async-tasks (the drain), cache, runtime-pool.
var app = []fx.Option{
	fxshutdown.Module,
	fxasync.Module,
	fxasync.DrainBefore[*Cache](), // the drain runs before the cache stops, whatever the parameter order
	fx.Provide(NewPool, NewCache, NewServer),
	fx.Invoke(func(*Server) {}),
}

func main() {
	os.Exit(fxshutdown.Run(app...)) // SIGINT/SIGTERM: not ready, readiness delay, ordered stop
}

// Pool stands for a worker pool that the cache uses.
type Pool struct{}

func startPool() *Pool                    { return &Pool{} }
func (*Pool) Close(context.Context) error { return nil }

// Cache stands for a cache that tasks write to.
type Cache struct{ pool *Pool }

func newCache(p *Pool) *Cache              { return &Cache{pool: p} }
func (*Cache) Flush(context.Context) error { return nil }

// Server stands for the HTTP server: it takes the scheduler, so it is built
// after it and stops before the drain.
type Server struct{}

// NewServer registers the server's step.
func NewServer(sd *fxshutdown.Shutdown, _ *fxasync.Scheduler) *Server {
	sd.Add(fxshutdown.Step{Name: "http-server", Run: func(context.Context) error { return nil }}) // http.Server.Shutdown, in a real one
	return &Server{}
}
