package core

import (
	"sort"
	"sync"
	"sync/atomic"
)

// OverflowLabel collects the figures of every label past the cap on distinct
// labels (Config.MaxLabels).
const OverflowLabel = "(other)"

// Counters are one label's running totals. Each sits on its own cache lines.
type Counters struct {
	submitted, rejected, succeeded, failed, panicked atomic.Int64
	durations                                        histogram
	_                                                [64]byte
}

// LabelStats is a snapshot of one label's counters.
type LabelStats struct {
	Label                                                     string
	Submitted, Rejected, Succeeded, Failed, Panicked, Running int64
	Durations                                                 Histogram // of finished tasks, from submission
}

// snapshot reads outcomes before submissions, so Running is never negative.
func (c *Counters) snapshot(label string) LabelStats {
	s := LabelStats{Label: label, Rejected: c.rejected.Load(), Succeeded: c.succeeded.Load(),
		Failed: c.failed.Load(), Panicked: c.panicked.Load(), Durations: c.durations.snapshot()}
	s.Submitted = c.submitted.Load()
	s.Running = s.Submitted - s.Rejected - s.Succeeded - s.Failed - s.Panicked
	return s
}

// labelTable maps labels to counters. Reads are one atomic load and a map
// lookup; a new label copies the map, which happens at most max times.
type labelTable struct {
	m        atomic.Pointer[map[string]*Counters]
	mu       sync.Mutex
	max      int
	overflow Counters
}

func (lt *labelTable) init(max int) {
	m := map[string]*Counters{}
	lt.m.Store(&m)
	lt.max = max
}

func (lt *labelTable) get(label string) *Counters {
	if c, ok := (*lt.m.Load())[label]; ok {
		return c
	}
	return lt.add(label)
}

func (lt *labelTable) add(label string) *Counters {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	old := *lt.m.Load()
	if c, ok := old[label]; ok {
		return c
	}
	if len(old) >= lt.max {
		return &lt.overflow
	}
	m := make(map[string]*Counters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	c := new(Counters)
	m[label] = c
	lt.m.Store(&m)
	return c
}

// snapshot returns every label's figures, sorted by label, the overflow
// bucket last when it was used.
func (lt *labelTable) snapshot() []LabelStats {
	m := *lt.m.Load()
	out := make([]LabelStats, 0, len(m)+1)
	for label, c := range m {
		out = append(out, c.snapshot(label))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if o := lt.overflow.snapshot(OverflowLabel); o.Submitted > 0 {
		out = append(out, o)
	}
	return out
}

// Stats is a snapshot of an engine's figures.
type Stats struct {
	Total  LabelStats   // sums over every label; Label is empty
	Labels []LabelStats // per label, sorted
}

// Stats returns the engine's figures now.
func (e *Engine) Stats() Stats {
	s := Stats{Labels: e.labels.snapshot()}
	for _, l := range s.Labels {
		s.Total.Submitted += l.Submitted
		s.Total.Rejected += l.Rejected
		s.Total.Succeeded += l.Succeeded
		s.Total.Failed += l.Failed
		s.Total.Panicked += l.Panicked
		s.Total.Running += l.Running
		s.Total.Durations = s.Total.Durations.add(l.Durations)
	}
	return s
}
