package core

// This file holds the duration histogram kept per label.

import (
	"sync/atomic"
	"time"
)

// DurationBounds are the upper bounds of the task duration buckets: from half
// a millisecond, for a cache write, to a minute, for a slow batch upload.
var DurationBounds = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// histogram counts durations per bucket; the last bucket is +Inf.
type histogram struct {
	counts [17]atomic.Int64
	sum    atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(DurationBounds) && d > DurationBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Durations is a histogram of finished tasks' durations, from submission to
// return: Counts[i] tasks took at most DurationBounds[i] and more than the
// bound before; the last count is the rest (+Inf).
type Durations struct {
	Counts []int64
	Sum    time.Duration
}

func (h *histogram) snapshot() Durations {
	s := Durations{Counts: make([]int64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}

func (h Durations) add(o Durations) Durations {
	if h.Counts == nil {
		h.Counts = make([]int64, len(o.Counts))
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Sum += o.Sum
	return h
}
