package core

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Many takers through a small semaphore: never more than the limit hold a
// slot, every waiter is woken (none is left sleeping with a slot free), and
// all slots come back.
func TestSemaStress(t *testing.T) {
	t.Parallel()
	s := &sema{limit: 3}
	l := limits{maxWait: Unbounded, stop: make(chan struct{}), draining: make(chan struct{}),
		followsUp: func(context.Context) bool { return false }}
	var held, peak, done atomic.Int64
	var waiting atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if !assert.NoError(t, l.take(s, &waiting, context.Background(), true, "test")) {
					return
				}
				n := held.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				held.Add(-1)
				s.give()
				done.Add(1)
			}
		}()
	}
	wg.Wait() // hangs if a wake-up was lost
	assert.Equal(t, int64(16*500), done.Load())
	assert.LessOrEqual(t, peak.Load(), int64(3))
	assert.Zero(t, s.taken.Load())
	assert.Zero(t, s.waiting.Load())
	assert.Empty(t, s.queue)
}

// Waiters that give up (their context ends) pass on a wake they were given:
// the one still waiting gets the slot.
func TestSemaLeavingWaiterPassesTheWakeOn(t *testing.T) {
	t.Parallel()
	s := &sema{limit: 1}
	require.True(t, s.tryTake())
	quitter := s.enqueue()
	stayer := s.enqueue()
	require.NotNil(t, quitter)
	require.NotNil(t, stayer)
	s.give() // wakes the quitter, the oldest
	<-quitter
	s.leave(quitter) // it gives up after all: the wake goes to the stayer
	<-stayer
	s.woken()
	assert.True(t, s.tryTake())
}

// A limit of 0 bounds nothing: every take succeeds and nothing is counted.
func TestSemaZeroLimitIsUnbounded(t *testing.T) {
	var s sema
	for i := 0; i < 3; i++ {
		assert.True(t, s.tryTake())
	}
	s.give()
	assert.Zero(t, s.taken.Load())
}
