package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/fxtools/background/fxshutdown"
)

// Pool is the "runtime pool": a fixed set of workers that produce the
// (deterministic, fake) model output, as a real inference runtime would with
// a bounded number of slots.
type Pool struct {
	jobs   chan job
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
}

type job struct {
	prompt string
	reply  chan string
}

var errPoolClosed = errors.New("runtime pool is closed")

// NewPool starts the workers and registers the "runtime-pool" shutdown step.
// It takes the database so that it is built after it and stops before it.
func NewPool(sd *fxshutdown.Shutdown, _ *DB) *Pool {
	p := &Pool{jobs: make(chan job)}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		p.wg.Add(1)
		go p.work()
	}
	sd.Add(fxshutdown.Step{Name: "runtime-pool", Run: func(context.Context) error { p.Close(); return nil }, Timeout: time.Second})
	return p
}

func (p *Pool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		j.reply <- generate(j.prompt)
	}
}

// Complete answers prompt on a worker, or fails when ctx ends first.
func (p *Pool) Complete(ctx context.Context, prompt string) (string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return "", errPoolClosed
	}
	j := job{prompt: prompt, reply: make(chan string, 1)}
	select {
	case p.jobs <- j:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return <-j.reply, nil
}

// Close stops the workers once the requests in progress have their answer.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.jobs)
		p.wg.Wait()
	}
}

// generate is the fake model: a deterministic answer that depends on the
// prompt only.
func generate(prompt string) string {
	words := strings.Fields(prompt)
	return fmt.Sprintf("You said %d word(s); the first was %q.", len(words), first(words))
}

func first(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return words[0]
}

// tokens counts tokens the simple way: one per word.
func tokens(s string) int { return len(strings.Fields(s)) }
