package core

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tasks that block hold their worker; the tasks queued behind them still
// start, because a spare worker is always there for a non-empty queue.
func TestBlockedTasksDoNotHoldBackOthers(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{})
	const n = 100
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		require.NoError(t, e.Go(context.Background(), "block", func(context.Context) error {
			started.Done()
			<-release
			return nil
		}, 0))
	}
	started.Wait() // hangs (and the test times out) if a task waited behind another
	assert.Equal(t, n, e.Pending())
	assert.Len(t, e.Running(), n)
	close(release)
	require.NoError(t, e.Drain(context.Background()))
}

// The pool's invariant, checked whenever no push is in progress, through
// rounds of bursts where some tasks block, some return, and workers park,
// wake and take tasks from each other.
func TestPoolInvariantUnderChurn(t *testing.T) {
	t.Parallel()
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	e, _ := newTestEngine(t, Config{IdleTimeout: time.Millisecond})
	var ran atomic.Int64
	for r := 0; r < rounds; r++ {
		release := make(chan struct{})
		var started sync.WaitGroup
		for i := 0; i < 16; i++ {
			started.Add(1)
			block := i%4 == 0
			require.NoError(t, e.Go(context.Background(), "churn", func(context.Context) error {
				started.Done()
				if block {
					<-release
				}
				ran.Add(1)
				return nil
			}, 0))
		}
		for i := 0; i < 50; i++ { // no push in progress from here on
			require.NoError(t, e.pool.check(), "round %d", r)
		}
		started.Wait()
		close(release)
	}
	require.NoError(t, e.Drain(context.Background()))
	assert.Equal(t, int64(rounds*16), ran.Load())
}

// A submitter paused between the two halves of its push (the tail swapped,
// the link not yet written) must not make idle workers spin: they park, and
// the link's signal wakes them.
func TestHalfDonePushParksWorkers(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{})
	warm := make(chan struct{})
	require.NoError(t, e.Go(context.Background(), "warm", func(context.Context) error { close(warm); return nil }, 0))
	<-warm
	ran := make(chan struct{})
	require.True(t, e.gate.enter())
	_, stats := e.labels.get("paused")
	tk := &task{parent: context.Background(), label: "paused", stats: stats, pc: unslotted,
		fn: func(context.Context) error { close(ran); return nil }}
	prev := e.pool.q.tail.Swap(tk) // first half of push
	waitFor(t, func() bool { return e.pool.parked.Load() == e.pool.spare.Load() && e.pool.spare.Load() > 0 })
	prev.next.Store(tk) // second half, then the signal that push sends
	e.pool.signal()
	<-ran
}

// Idle workers exit after the idle timeout and a later task still runs.
func TestIdleWorkersExitAndRestart(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{IdleTimeout: time.Millisecond})
	for round := 0; round < 3; round++ {
		done := make(chan struct{})
		require.NoError(t, e.Go(context.Background(), "x", func(context.Context) error { close(done); return nil }, 0))
		<-done
		waitFor(t, func() bool { return e.workerCount() == 0 })
	}
}

func (e *Engine) workerCount() int {
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	n := 0
	for w := e.pool.workers; w != nil; w = w.next {
		n++
	}
	return n
}

func TestQueueFIFOAndEmpty(t *testing.T) {
	t.Parallel()
	var q queue
	q.init()
	assert.True(t, q.empty())
	assert.Nil(t, q.pop())
	ts := make([]*task, 5)
	for i := range ts {
		ts[i] = &task{label: string(rune('a' + i))}
		q.push(ts[i])
		assert.False(t, q.empty())
	}
	for i := range ts {
		assert.Same(t, ts[i], q.pop())
	}
	assert.True(t, q.empty())
	assert.Nil(t, q.pop())
	last := &task{label: "z"} // a task is pushed once: nodes are never reused
	q.push(last)
	assert.Same(t, last, q.pop())
	assert.True(t, q.empty())
}

// The layouts that keep each side's hot words on cache lines of their own
// (see pool and gate) rest on field sizes; a field added in the wrong place
// would cost speed silently, so it fails here instead.
func TestHotWordsStartCacheLines(t *testing.T) {
	const line = 64
	e, _ := newTestEngine(t, Config{})
	p, g := e.pool, e.gate
	assert.Zero(t, uintptr(unsafe.Pointer(p))%line, "the pool starts a line (its size class, 320 B)")
	assert.Equal(t, uintptr(line), unsafe.Offsetof(p.fresh), "the spare record's slot starts the second line")
	assert.Zero(t, unsafe.Offsetof(p.q)%line, "the queue's tail starts a line")
	assert.Zero(t, (unsafe.Offsetof(p.q)+unsafe.Offsetof(p.q.head))%line, "the queue's head starts a line")
	assert.Zero(t, uintptr(unsafe.Pointer(g))%line, "the gate starts a line (its size class, 128 B)")
	assert.Equal(t, uintptr(line), unsafe.Offsetof(g.global)+unsafe.Sizeof(g.global), "state and global slots fill one line")
	assert.Equal(t, uintptr(line), unsafe.Offsetof(g.draining), "the rest of the gate starts the next line")
}

// A task one at a time takes the record its worker left (spareTask), and a
// record is never used twice: a context kept past its task still reads its
// own submitter's values and vouches for no follow-up.
func TestSpareRecordsAreFreshNeverReused(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	type key struct{}
	const n = 200
	seen := make(map[context.Context]int, n)
	ctxs := make(chan context.Context, 1)
	var took int
	for i := 0; i < n; i++ {
		spare := e.pool.fresh.Load()
		for ; spare == nil && i > 0; spare = e.pool.fresh.Load() {
			runtime.Gosched() // the worker fills the slot after its task returns
		}
		parent := context.WithValue(context.Background(), key{}, i)
		require.NoError(t, e.Go(parent, "spare", func(ctx context.Context) error { ctxs <- ctx; return nil }, 0))
		ctx := <-ctxs
		if spare != nil && ctx == context.Context(spare) {
			took++
		}
		_, dup := seen[ctx]
		require.False(t, dup, "task %d got the context of an earlier task", i)
		seen[ctx] = i
	}
	require.NoError(t, e.Drain(context.Background()))
	for ctx, i := range seen {
		assert.Equal(t, i, ctx.Value(key{}), "a kept context reads its own submitter's value")
		assert.False(t, e.followsUp(ctx), "a finished task's context vouches for no follow-up")
	}
	assert.Equal(t, n-1, took, "one at a time, every submission after the first takes the worker's spare record")
}
