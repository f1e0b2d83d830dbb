// Package keepertest is the conformance suite of fxasync.Keeper: a Keeper
// that passes Run keeps what a scheduler's drain hands it the way the
// scheduler counts on — everything it says it kept is stored, once, and
// nothing else; an item it cannot store costs that item only; it returns
// by its context's end; concurrent calls for several kinds do not mix.
//
// Run it from a test of the Keeper's package, against fresh storage:
//
//	func TestKeeperConformance(t *testing.T) {
//		keepertest.Run(t, keepertest.Harness{New: newKeeper, Kinds: []string{"a", "b"}, Item: item})
//	}
//
// fxasyncriver runs it on SQLite and on Postgres; the suite's own tests run
// it against a Keeper writing JSON lines to a file.
package keepertest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/zap"
)

// Harness is what the suite needs of a Keeper under test.
type Harness struct {
	// New returns a Keeper on fresh storage, and read, which returns the
	// ids of the items stored for kind (of Kinds), as often as each was
	// stored, in any order. The test's cleanup releases both.
	New func(t *testing.T) (k fxasync.Keeper, read func(kind string) []int)
	// Kinds are at least two kinds the Keeper can store items of.
	Kinds []string
	// Item returns the item of kind with id, a value the Keeper stores.
	Item func(kind string, id int) any
	// Unstorable, if set, returns items the Keeper cannot store (a
	// marshaller that panics, a type it does not know): each must cost
	// itself only.
	Unstorable func() []any
}

// Run runs the suite, each part a subtest.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if len(h.Kinds) < 2 || h.New == nil || h.Item == nil {
		t.Fatal("keepertest: Harness needs New, Item and two Kinds")
	}
	t.Run("KeepsEveryItemOnce", func(t *testing.T) { keepsEveryItemOnce(t, h, 100) })
	t.Run("KeepsAThousandAtOnce", func(t *testing.T) { keepsEveryItemOnce(t, h, 1_000) })
	t.Run("NothingToKeep", func(t *testing.T) { nothingToKeep(t, h) })
	t.Run("UnstorableCostsItself", func(t *testing.T) { unstorableCostsItself(t, h) })
	t.Run("CountIsWhatIsStored", func(t *testing.T) { countIsWhatIsStored(t, h) })
	t.Run("ConcurrentKinds", func(t *testing.T) { concurrentKinds(t, h) })
	t.Run("ThroughADrain", func(t *testing.T) { throughADrain(t, h) })
	t.Run("RetriedItems", func(t *testing.T) { retriedItems(t, h) })
}

// retriedItems: a RetryKeeper stores a *fxasync.Retried as the item it
// wraps, beside bare items, each once. A Keeper that is not one never gets
// them: the part is skipped.
func retriedItems(t *testing.T, h Harness) {
	k, read := h.New(t)
	if _, ok := k.(fxasync.RetryKeeper); !ok {
		t.Skip("not an fxasync.RetryKeeper: the scheduler gives it bare values only")
	}
	kind := h.Kinds[0]
	items := h.items(kind, span(0, 10))
	for i := 0; i < len(items); i += 2 {
		items[i] = &fxasync.Retried{Value: items[i], Attempts: i + 1, NotBefore: time.Now().Add(time.Duration(i) * time.Second)}
	}
	kept, err := keep(t, k, context.Background(), kind, items)
	if kept != len(items) || err != nil {
		t.Errorf("Keep(5 retried, 5 bare) = %d, %v; want 10, nil", kept, err)
	}
	sameIDs(t, "retried and bare", read(kind), span(0, 10))
}

// items returns ids' items of kind.
func (h Harness) items(kind string, ids []int) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = h.Item(kind, id)
	}
	return out
}

func span(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// keep calls Keep within a minute, failing the test if it does not return.
func keep(t *testing.T, k fxasync.Keeper, ctx context.Context, kind string, items []any) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := k.Keep(ctx, kind, items)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(time.Minute):
		t.Fatalf("Keep(%q, %d items) did not return in a minute", kind, len(items))
		return 0, nil
	}
}

// sameIDs fails t unless got holds want's ids, each once.
func sameIDs(t *testing.T, what string, got, want []int) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s: stored %d item(s) %v, want %d %v", what, len(got), clip(got), len(want), clip(want))
	}
}

func clip(ids []int) []int {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}

func keepsEveryItemOnce(t *testing.T, h Harness, n int) {
	k, read := h.New(t)
	kind := h.Kinds[0]
	kept, err := keep(t, k, context.Background(), kind, h.items(kind, span(0, n)))
	if kept != n || err != nil {
		t.Errorf("Keep(%d items) = %d, %v; want %d, nil", n, kept, err, n)
	}
	sameIDs(t, "after one Keep", read(kind), span(0, n))
}

func nothingToKeep(t *testing.T, h Harness) {
	k, read := h.New(t)
	for _, items := range [][]any{nil, {}} {
		if kept, err := keep(t, k, context.Background(), h.Kinds[0], items); kept != 0 || err != nil {
			t.Errorf("Keep(%v) = %d, %v; want 0, nil", items, kept, err)
		}
	}
	sameIDs(t, "after empty Keeps", read(h.Kinds[0]), nil)
}

func unstorableCostsItself(t *testing.T, h Harness) {
	if h.Unstorable == nil {
		t.Skip("keepertest: the Harness names no unstorable item")
	}
	k, read := h.New(t)
	kind := h.Kinds[0]
	bad := h.Unstorable()
	items := h.items(kind, span(0, 5))
	for i, b := range bad {
		items = slices.Insert(items, min(2*i+1, len(items)), b)
	}
	items = append(items, h.items(kind, span(5, 5))...)
	kept, err := keep(t, k, context.Background(), kind, items)
	if kept != 10 {
		t.Errorf("Keep(10 good, %d unstorable) kept %d, want 10", len(bad), kept)
	}
	if err == nil {
		t.Error("Keep with unstorable items returned no error: what was lost must say why")
	}
	sameIDs(t, "around unstorable items", read(kind), span(0, 10))
}

// countIsWhatIsStored: with a context already done, or ending while it
// stores, Keep may keep less, but says exactly how many.
func countIsWhatIsStored(t *testing.T, h Harness) {
	k, read := h.New(t)
	kind := h.Kinds[0]
	done, cancel := context.WithCancel(context.Background())
	cancel()
	n1, _ := keep(t, k, done, kind, h.items(kind, span(0, 50)))
	short, cancelShort := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancelShort()
	n2, _ := keep(t, k, short, kind, h.items(kind, span(50, 500)))
	got := read(kind)
	if len(got) != n1+n2 {
		t.Errorf("Keep said it kept %d + %d, but %d are stored", n1, n2, len(got))
	}
	seen := map[int]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("item %d stored twice", id)
		}
		seen[id] = true
	}
}

func concurrentKinds(t *testing.T, h Harness) {
	k, read := h.New(t)
	var wg sync.WaitGroup
	const n = 200
	for _, kind := range h.Kinds {
		for part := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if kept, err := k.Keep(context.Background(), kind, h.items(kind, span(part*n, n))); kept != n || err != nil {
					t.Errorf("Keep(%q, %d items) = %d, %v", kind, n, kept, err)
				}
			}()
		}
	}
	wg.Wait()
	for _, kind := range h.Kinds {
		sameIDs(t, "kind "+kind, read(kind), span(0, 2*n))
	}
}

// throughADrain runs the Keeper under a scheduler: a Kind's tasks and a
// batcher's items that the drain's bound cuts off are kept, each once, and
// the drain's report says so.
func throughADrain(t *testing.T, h Harness) {
	k, read := h.New(t)
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 50 * time.Millisecond, Grace: 10 * time.Millisecond,
		Keeper: k, KeepTimeout: 30 * time.Second})
	taskKind, itemKind := h.Kinds[0], h.Kinds[1]
	ids := map[any]int{}
	for _, kind := range h.Kinds {
		for id := range 40 {
			ids[fmt.Sprint(h.Item(kind, id))] = id
		}
	}
	untilCut := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tasks := fxasync.NewKind(s, taskKind, func(ctx context.Context, v any) error {
		if ids[fmt.Sprint(v)]%2 == 0 {
			return nil // done: not kept
		}
		return untilCut(ctx)
	})
	items := fxasync.NewBatcher(s, itemKind, func(ctx context.Context, _ []any) error { return untilCut(ctx) },
		fxasync.BatcherConfig{MaxBatch: 10, Keep: true})
	for id := range 40 {
		if err := tasks.Go(context.Background(), h.Item(taskKind, id)); err != nil {
			t.Fatal(err)
		}
		if err := items.Add(context.Background(), h.Item(itemKind, id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Drain(context.Background()); err == nil {
		t.Fatal("the drain's bound should have cut the tasks short")
	}
	var odd []int
	for id := 1; id < 40; id += 2 {
		odd = append(odd, id)
	}
	sameIDs(t, "the Kind's cut tasks", read(taskKind), odd)
	sameIDs(t, "the batcher's unwritten items", read(itemKind), span(0, 40))
	want := fxasync.Losses{{Label: taskKind, Kept: 20}, {Label: itemKind, Kept: 40}}
	slices.SortFunc(want, func(a, b fxasync.LabelLoss) int { return cmp.Compare(a.Label, b.Label) })
	if got := s.LastDrain().Lost; !slices.Equal(got, want) {
		t.Errorf("the drain reported %v, want %v", got, want)
	}
}
