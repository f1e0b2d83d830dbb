package fxasync

// This file holds a Batcher's figures and the scheduler's list of batchers.

// BatchSizeBounds are the upper bounds of BatcherStats.Sizes' buckets.
var BatchSizeBounds = [...]int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

func sizeBucket(n int) int {
	i := 0
	for i < len(BatchSizeBounds) && n > BatchSizeBounds[i] {
		i++
	}
	return i
}

// BatcherStats are a Batcher's figures, in items unless said otherwise.
// With Keep, the items a stop leaves unwritten are in none of Flushed,
// Failed, Lost and Kept until the Keeper has been called, at the drain's
// end; then each is in Kept or Lost.
type BatcherStats struct {
	Label    string
	Added    int64   // accepted
	Rejected int64   // refused by Add or TryAdd: full, or closed by the drain
	Flushed  int64   // written
	Failed   int64   // in a batch whose write failed or panicked
	Lost     int64   // in a batch that could not run (the drain had given up), or the Keeper did not keep
	Kept     int64   // left unwritten by a stop and kept by the Keeper (BatcherConfig.Keep)
	Pending  int64   // accepted and not yet written
	Bytes    int64   // for Sizers: the bytes of the pending items
	Limit    int64   // how many may be pending now: MaxPending, or less at a slow write rate
	Rate     float64 // items written per second, recently
	Batches  int64   // flushes, whatever their outcome
	Retries  int64   // writes that failed as the store's and were tried again (BatcherConfig.Retry)
	GaveUp   int64   // of Failed and Kept, items whose write was retryable but out of retries
	// Sizes counts batches by size: Sizes[i] batches held at most
	// BatchSizeBounds[i] items and more than the bound before; the last
	// count is the rest.
	Sizes []int64
}

// Stats returns the batcher's figures now.
func (b *Batcher[T]) Stats() BatcherStats {
	b.mu.Lock()
	pending, limit, rate, bytes := b.pendingLocked(), b.limitLocked(), b.rate, b.bytes
	b.mu.Unlock()
	s := BatcherStats{Label: b.label, Added: b.n.added.Load(), Rejected: b.n.rejected.Load(),
		Flushed: b.n.flushed.Load(), Failed: b.n.failed.Load(), Lost: b.n.lost.Load(), Kept: b.n.kept.Load(),
		Pending: int64(pending), Bytes: int64(bytes), Limit: int64(limit), Rate: rate, Batches: b.n.batches.Load(),
		Retries: b.n.retries.Load(), GaveUp: b.n.gaveUp.Load(),
		Sizes: make([]int64, len(b.n.sizes))}
	for i := range b.n.sizes {
		s.Sizes[i] = b.n.sizes[i].Load()
	}
	return s
}

// batcherOf is what the scheduler keeps of each batcher: its figures and,
// for fxasynctest, a way to write what it holds now.
type batcherOf interface {
	Stats() BatcherStats
	flusher
}

// flusher is what fxasynctest.Wait writes now: a batcher's buffer, a
// Coalescer's delayed values. flush starts those writes, not waiting for
// MaxDelay or Delay, and reports whether it is quiet: no write in progress
// and nothing held, or (with backoffIdle) waiting for a retry's backoff.
type flusher interface {
	flush(backoffIdle bool) (quiet bool)
}

func (s *Scheduler) addFlusher(f flusher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushers = append(s.flushers, f)
}

func (s *Scheduler) addBatcher(b batcherOf) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batchers = append(s.batchers, b)
	s.flushers = append(s.flushers, b)
}

// Batchers returns the figures of every Batcher made with this scheduler.
func (s *Scheduler) Batchers() []BatcherStats {
	if s == nil {
		return nil
	}
	bs := s.batcherList()
	out := make([]BatcherStats, len(bs))
	for i, b := range bs {
		out[i] = b.Stats()
	}
	return out
}

func (s *Scheduler) flusherList() []flusher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]flusher(nil), s.flushers...)
}

func (s *Scheduler) batcherList() []batcherOf {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]batcherOf(nil), s.batchers...)
}
