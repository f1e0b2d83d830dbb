package fxasyncriver

// This file holds the per-kind counters.

import (
	"maps"
	"slices"
	"sync/atomic"
)

// kindStats are a kind's counters, written by its submissions, fast paths,
// in-memory runs, the keep and River's worker.
type kindStats struct {
	inserted, refused, direct, fast, claimsLost, deferred, memory, kept, byRiver atomic.Int64
}

// KindStats are a kind's figures since New, counted in tasks.
type KindStats struct {
	Kind       string
	Inserted   int64 // durable tasks inserted into River (with InsertTx, the transaction may have rolled back)
	Refused    int64 // durable tasks a Submit refused: the committers' queue was full
	Direct     int64 // durable tasks written in their submission's own transaction: no job needed
	Fast       int64 // durable tasks the fast path claimed and wrote
	ClaimsLost int64 // fast paths that found River had the job: it ran it, or runs it
	Deferred   int64 // fast paths that did not run or commit (refused, cut off by the drain, failed): River runs them
	Memory     int64 // in-memory tasks (Go) written
	Kept       int64 // in-memory tasks and batcher items a stop handed to River (Keep)
	ByQueue    int64 // jobs River's own workers ran to completion
}

// Stats returns each registered kind's figures, sorted by kind.
func (h *HandOff) Stats() []KindStats {
	out := make([]KindStats, 0, len(h.kinds))
	for _, k := range slices.Sorted(maps.Keys(h.kinds)) {
		s := h.kinds[k]
		out = append(out, KindStats{Kind: k, Inserted: s.inserted.Load(), Refused: s.refused.Load(), Direct: s.direct.Load(), Fast: s.fast.Load(),
			ClaimsLost: s.claimsLost.Load(), Deferred: s.deferred.Load(), Memory: s.memory.Load(),
			Kept: s.kept.Load(), ByQueue: s.byRiver.Load()})
	}
	return out
}
