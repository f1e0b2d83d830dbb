package core

// This file holds how the engine counts what a stop lost, per label.

import "sort"

// markDrainStart records each label's refusals so far: from here on they
// count as lost.
func (e *Engine) markDrainStart() {
	e.labels.each(func(_ string, c *Counters) { c.refusedAtDrain.Store(c.rejected.Load()) })
}

// unfinished counts, per label, the tasks running and queued now.
func (e *Engine) unfinished() map[string]LabelLoss {
	running := map[string]int{}
	e.pool.running(func(t *task) {
		if t.start.Load() != finished {
			running[t.label]++
		}
	})
	// Retries cut from here on are of tasks counted now, running or queued;
	// the lock keeps a cut from falling between the two reads.
	e.retry.cutMu.Lock()
	e.labels.each(func(_ string, c *Counters) { c.lostRetryAtBound.Store(c.lostRetry.Load()) })
	stats := e.Stats()
	e.retry.cutMu.Unlock()
	out := map[string]LabelLoss{}
	for _, l := range stats.Labels {
		if l.Pending > 0 {
			r := running[l.Label]
			out[l.Label] = LabelLoss{Running: r, Queued: max(int(l.Pending)-r, 0)}
		}
	}
	return out
}

// losses combines what the drain left unfinished (nil when it ended at zero)
// with the refusals since it began, and holders' own counts.
func (e *Engine) losses(left map[string]LabelLoss) Losses {
	type entry struct {
		label string
		c     *Counters
	}
	var labels []entry
	e.labels.each(func(label string, c *Counters) { labels = append(labels, entry{label, c}) })
	var out Losses
	for _, x := range labels {
		l := left[x.label]
		l.Label = x.label
		l.Rejected = int(x.c.rejected.Load() - x.c.refusedAtDrain.Load())
		l.Retrying = int(x.c.lostRetry.Load())
		if left != nil {
			l.Retrying = int(x.c.lostRetryAtBound.Load())
		}
		if items, kept, rejected, ok := e.holds.loss(x.label); ok {
			l = LabelLoss{Label: x.label, Items: items, Kept: kept, Rejected: l.Rejected, Retrying: l.Retrying}
			if !rejected {
				l.Rejected = 0
			}
		}
		if l.Total() > 0 || l.Kept > 0 {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}
