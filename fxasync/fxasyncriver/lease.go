package fxasyncriver

// This file holds the lease keeper: on Postgres, leases that ended are made
// runnable within a poll interval, without waiting for River's leader.

import (
	"context"
	"maps"
	"slices"
	"time"
)

// leaseKeeper makes the kinds' jobs whose lease ended available, and the
// jobs River has run for longer than RescueAfter (their process died: a
// SIGKILL leaves them running), every PollInterval. River does the first
// from its leader alone, every 5 s, and the second every 30 s; when the
// leader was the process that died, a new one is elected only after its
// record expires (15 s), so a dead replica's jobs waited 20–25 s. Every
// replica runs the keeper: the UPDATEs are idempotent, and the rows they
// touch are locked one at a time. A rescued job keeps its attempt; River's
// next run is the next attempt, so the old run, if its process lives after
// all, fails its fence (HandOff.fence) and writes nothing.
type leaseKeeper struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startLeaseKeeper(h *HandOff) *leaseKeeper {
	ctx, cancel := context.WithCancel(context.Background())
	k := &leaseKeeper{cancel: cancel, done: make(chan struct{})}
	kinds := slices.Sorted(maps.Keys(h.kinds))
	every := h.cfg.PollInterval
	if every <= 0 {
		every = time.Second
	}
	go func() {
		defer close(k.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, err := h.db.ExecContext(ctx, `UPDATE river_job SET state = 'available'
				WHERE state = 'scheduled' AND scheduled_at <= now() AND kind = ANY($1)`, kinds)
			if err == nil {
				_, err = h.db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
					WHERE state = 'running' AND attempted_at < now() - make_interval(secs => $2) AND kind = ANY($1)`,
					kinds, h.cfg.RescueAfter.Seconds())
			}
			if err != nil && ctx.Err() == nil {
				h.log.Warn("fxasyncriver: making ended leases and dead runs runnable", "error", err)
			}
		}
	}()
	return k
}

// stop ends the keeper and waits for it; a nil keeper does nothing.
func (k *leaseKeeper) stop() {
	if k == nil {
		return
	}
	k.cancel()
	<-k.done
}
