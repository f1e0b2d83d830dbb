package fxasyncriver

// This file holds the per-kind counters.

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/fxtools/background/fxasync"
)

// kindStats are a kind's counters, written by its submissions, fast paths,
// in-memory runs, the stop's spill and River's worker.
type kindStats struct {
	inserted, fast, claimsLost, deferred, memory, spilled, byRiver atomic.Int64
}

// KindStats are a kind's figures since New; ByQueue counts River's runs.
type KindStats = fxasync.HandOffStats

// Stats returns each registered kind's figures, sorted by kind. The
// scheduler reports them too (fxasync.Scheduler.HandOffs), for exporters.
func (h *HandOff) Stats() []KindStats {
	out := make([]KindStats, 0, len(h.kinds))
	for _, k := range slices.Sorted(maps.Keys(h.kinds)) {
		s := h.kinds[k]
		out = append(out, KindStats{Kind: k, Inserted: s.inserted.Load(), Fast: s.fast.Load(),
			ClaimsLost: s.claimsLost.Load(), Deferred: s.deferred.Load(), Memory: s.memory.Load(),
			Spilled: s.spilled.Load(), ByQueue: s.byRiver.Load()})
	}
	return out
}
