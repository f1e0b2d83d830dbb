package fxasync_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// lastValues is a store that counts a write older than what it holds.
type lastValues struct {
	mu     sync.Mutex
	last   map[int]int
	stale  int
	writes int
}

func (l *lastValues) write(_ context.Context, k, v int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.last[k]; ok && v < old {
		l.stale++
	}
	l.last[k] = v
	l.writes++
	return nil
}

// Sets over 1,000 keys from 8 goroutines, each key's values increasing:
// after the drain every key holds its last value, no write was stale, and
// the books balance: submitted = succeeded + coalesced.
func TestCoalescerLastValueWins(t *testing.T) {
	sets := 1_000_000
	if testing.Short() {
		sets = 100_000
	}
	const keys, writers = 1000, 8
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	store := &lastValues{last: map[int]int{}}
	c := fxasync.NewCoalescer(s, "cache-set", store.write, fxasync.CoalescerConfig{})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range sets / writers {
				k := (i*writers + g) % keys // key k belongs to goroutine k % writers
				assert.NoError(t, c.Set(context.Background(), k, i))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Drain(context.Background()))
	assert.Zero(t, store.stale)
	require.Len(t, store.last, keys)
	for k := range keys {
		g, perKey := k%writers, sets/writers
		last := perKey - 1
		for (last*writers+g)%keys != k {
			last--
		}
		assert.Equal(t, last, store.last[k], "key %d", k)
	}
	st := statsOf(s, "cache-set")
	assert.EqualValues(t, sets, st.Submitted)
	assert.Equal(t, st.Submitted, st.Succeeded+st.Coalesced, "%+v", st)
	assert.EqualValues(t, store.writes, st.Succeeded)
	assert.Zero(t, st.Pending)
	t.Logf("%d sets, %d writes, %d coalesced", sets, st.Succeeded, st.Coalesced)
}

// A write blocked on each of 10 keys while Sets flood them: pending stays
// at 10 running + 10 waiting, and memory does not grow with the Sets.
func TestCoalescerFloodCostsOneSlotPerKey(t *testing.T) {
	sets := 1_000_000
	if testing.Short() {
		sets = 100_000
	}
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	release := make(chan struct{})
	store := &lastValues{last: map[int]int{}}
	c := fxasync.NewCoalescer(s, "hot", func(ctx context.Context, k, v int) error {
		<-release
		return store.write(ctx, k, v)
	}, fxasync.CoalescerConfig{})
	for k := range 10 {
		require.NoError(t, c.Set(context.Background(), k, 0))
	}
	before := heapInUse()
	for i := range sets {
		require.NoError(t, c.TrySet(i%10, i))
	}
	grew := heapInUse() - before
	st := statsOf(s, "hot")
	assert.EqualValues(t, 20, st.Pending, "10 running, 10 waiting")
	t.Logf("%d sets on 10 blocked keys: heap grew %d bytes", sets, grew)
	assert.Less(t, grew, int64(1<<20), "memory flat: it does not grow with the sets")
	close(release)
	require.NoError(t, s.Drain(context.Background()))
	for k := range 10 {
		assert.Equal(t, sets-10+k, store.last[k])
	}
	st = statsOf(s, "hot")
	assert.EqualValues(t, 20, st.Succeeded)
	assert.EqualValues(t, sets+10-20, st.Coalesced)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// With a Delay a key is written once per delay with its newest value, on
// the test's clock.
func TestCoalescerDelayWritesTheNewest(t *testing.T) {
	clk := fxasynctest.NewClock()
	s := fxasynctest.New(t, fxasynctest.WithClock(clk))
	store := &lastValues{last: map[int]int{}}
	c := fxasync.NewCoalescer(s, "presence", store.write, fxasync.CoalescerConfig{Delay: time.Second})
	for v := range 3 {
		require.NoError(t, c.Set(context.Background(), 7, v))
	}
	clk.Advance(999 * time.Millisecond)
	assert.Zero(t, statsOf(s, "presence").Succeeded+statsOf(s, "presence").Failed, "the delay has not passed")
	clk.Advance(time.Millisecond)
	fxasynctest.Wait(t, s)
	assert.Equal(t, 1, store.writes)
	assert.Equal(t, 2, store.last[7])
	assert.EqualValues(t, 2, statsOf(s, "presence").Coalesced)

	require.NoError(t, c.Set(context.Background(), 7, 9))
	fxasynctest.Wait(t, s) // writes a delayed value now, as it writes a batcher's buffer
	assert.Equal(t, 9, store.last[7])
}

// The drain writes each key's waiting value; a Set after it began is
// refused.
func TestCoalescerDrainWritesWaitingValues(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	release := make(chan struct{})
	store := &lastValues{last: map[int]int{}}
	c := fxasync.NewCoalescer(s, "cache-set", func(ctx context.Context, k, v int) error {
		if v == 1 {
			<-release
		}
		return store.write(ctx, k, v)
	}, fxasync.CoalescerConfig{Delay: time.Hour})
	require.NoError(t, c.Set(context.Background(), 1, 1))
	done := make(chan error, 1)
	go func() { done <- s.Drain(context.Background()) }()
	<-s.Draining()
	require.ErrorIs(t, c.Set(context.Background(), 1, 2), fxasync.ErrClosed)
	close(release)
	require.NoError(t, <-done, "the hour's delay did not hold the drain")
	assert.Equal(t, 1, store.last[1])
	st := statsOf(s, "cache-set")
	assert.EqualValues(t, 1, st.Rejected)
	assert.EqualValues(t, 1, st.Succeeded)
}

// Keyed tasks: 100 keys, each task checks that no other task of its key
// runs and that it runs in its key's order.
func TestGoKeyedRunsInOrderOneAtATime(t *testing.T) {
	perKey := 1000
	if testing.Short() {
		perKey = 100
	}
	const keys = 100
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: fxasync.Unbounded})
	var running [keys]atomic.Int32
	var next [keys]int
	var violations, ran atomic.Int64
	for i := range perKey {
		for k := range keys {
			s.GoKeyed(context.Background(), "ordered", keyName(k), func(context.Context) error {
				if running[k].Add(1) != 1 {
					violations.Add(1)
				}
				if next[k] != i {
					violations.Add(1)
				}
				next[k]++
				if rand.IntN(16) == 0 {
					runtime.Gosched()
				}
				running[k].Add(-1)
				ran.Add(1)
				return nil
			})
		}
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.Zero(t, violations.Load())
	assert.EqualValues(t, keys*perKey, ran.Load())
	assert.EqualValues(t, keys*perKey, statsOf(s, "ordered").Succeeded)
}

func keyName(k int) string { return string(rune('A'+k%26)) + string(rune('a'+k/26)) }

// Books balance exactly under a random mix of success, failure and panic
// in both a Coalescer's writes and keyed tasks, with the drain beginning
// while submitters still run: submitted = succeeded + failed + panicked +
// coalesced + rejected, nothing pending.
func TestKeyedBooksBalance(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxPending: 64, MaxWait: time.Millisecond})
	outcome := func(v int) error {
		switch v % 5 {
		case 0:
			return errors.New("down")
		case 1:
			panic("write broke")
		}
		return nil
	}
	c := fxasync.NewCoalescer(s, "mix-set", func(_ context.Context, _, v int) error { return outcome(v) }, fxasync.CoalescerConfig{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := rand.IntN(1000)
				if g%2 == 0 {
					_ = c.TrySet(i%17, v)
				} else {
					s.GoKeyed(context.Background(), "mix-keyed", keyName(i%13), func(context.Context) error { return outcome(v) })
				}
			}
		}()
	}
	both := func(ok func(fxasync.LabelStats) bool) {
		for !ok(statsOf(s, "mix-set")) || !ok(statsOf(s, "mix-keyed")) {
			runtime.Gosched()
		}
	}
	both(func(l fxasync.LabelStats) bool { return l.Submitted >= 1000 })
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background()) }()
	<-s.Draining()
	both(func(l fxasync.LabelStats) bool { return l.Rejected >= 10 }) // submissions refused by the drain
	close(stop)
	wg.Wait()
	require.NoError(t, <-drained)
	for _, label := range []string{"mix-set", "mix-keyed"} {
		st := statsOf(s, label)
		assert.Positive(t, st.Submitted, label)
		assert.Zero(t, st.Pending, label)
		assert.Equal(t, st.Submitted, st.Succeeded+st.Failed+st.Panicked+st.Coalesced+st.Rejected, "%s: %+v", label, st)
		t.Logf("%s: %+v", label, st)
	}
}

// A key that cannot be hashed (an interface holding a slice) is refused
// with an error, not a panic, and holds nothing: the drain still ends.
func TestCoalescerRefusesAnUnhashableKey(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	c := fxasync.NewCoalescer(s, "any-key", func(context.Context, any, int) error { return nil }, fxasync.CoalescerConfig{})
	err := c.Set(context.Background(), []int{1}, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot be a map key")
	require.NoError(t, c.TrySet("fine", 2))
	require.NoError(t, s.Drain(context.Background()))
	assert.EqualValues(t, 1, statsOf(s, "any-key").Succeeded)
	assert.Zero(t, statsOf(s, "any-key").Pending)
}
