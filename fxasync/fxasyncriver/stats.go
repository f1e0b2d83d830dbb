package fxasyncriver

// This file holds the per-kind counters.

import (
	"maps"
	"slices"
	"sync/atomic"
)

// kindStats are a kind's counters, written by its submissions, fast paths
// and River's worker.
type kindStats struct {
	inserted, fast, claimsLost, deferred, byRiver atomic.Int64
}

// KindStats are a kind's figures since New.
type KindStats struct {
	Kind string
	// Inserted counts durable tasks inserted (their transaction may have
	// rolled back).
	Inserted int64
	// Fast counts tasks the fast path claimed and wrote.
	Fast int64
	// ClaimsLost counts fast paths that found River had the job.
	ClaimsLost int64
	// Deferred counts fast paths that did not run or did not commit
	// (refused, cancelled by the drain's bound, failed): River runs them.
	Deferred int64
	// ByRiver counts jobs River's workers ran to completion.
	ByRiver int64
}

// Stats returns each registered kind's figures, sorted by kind.
func (h *Handoff) Stats() []KindStats {
	out := make([]KindStats, 0, len(h.kinds))
	for _, k := range slices.Sorted(maps.Keys(h.kinds)) {
		s := h.kinds[k]
		out = append(out, KindStats{Kind: k, Inserted: s.inserted.Load(), Fast: s.fast.Load(),
			ClaimsLost: s.claimsLost.Load(), Deferred: s.deferred.Load(), ByRiver: s.byRiver.Load()})
	}
	return out
}
