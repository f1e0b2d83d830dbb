package fxasync

// This file holds the figures of hand-offs to a durable queue, kept here so
// that exporters (fxasyncprom) read them without depending on the queue.

import "github.com/fxtools/background/internal/core"

// HandOffStats are one task kind's figures in a hand-off to a durable
// queue (fxasyncriver), counted in tasks.
type HandOffStats struct {
	Kind       string
	Inserted   int64 // durable tasks inserted into the queue (their transaction may have rolled back)
	Fast       int64 // durable tasks the fast path claimed and wrote
	ClaimsLost int64 // fast paths that found the queue had the job: it ran it, or runs it
	Deferred   int64 // fast paths that did not run or commit (refused, cut off by the drain, failed): the queue runs them
	Memory     int64 // in-memory tasks written
	Spilled    int64 // in-memory tasks and batcher items handed to the queue at a stop
	ByQueue    int64 // jobs the queue's own workers ran to completion
}

// AddHandOff registers a hand-off's figures; HandOffs reports them. The
// hand-off calls it once, with a function that is safe for concurrent use.
func (s *Scheduler) AddHandOff(stats func() []HandOffStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handOffs = append(s.handOffs, stats)
}

// HandOffs returns the figures of every hand-off registered with AddHandOff,
// each Kind cleaned as labels are (valid UTF-8, at most MaxLabelBytes).
func (s *Scheduler) HandOffs() []HandOffStats {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	fs := append([]func() []HandOffStats(nil), s.handOffs...)
	s.mu.Unlock()
	var out []HandOffStats
	for _, f := range fs {
		for _, h := range f() {
			h.Kind = core.CleanLabel(h.Kind)
			out = append(out, h)
		}
	}
	return out
}
