package keepertest_test

// This file runs the suite against a Keeper that has nothing of River: it
// appends JSON lines to a file. That it passes shows the seam is not
// River-shaped.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/keepertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fileKeeper keeps items as JSON lines {"kind":…,"item":…}, written and
// synced once per call.
type fileKeeper struct {
	mu   sync.Mutex
	path string
}

type line struct {
	Kind string          `json:"kind"`
	Item json.RawMessage `json:"item"`
}

func (f *fileKeeper) Keep(ctx context.Context, kind string, items []any) (int, error) {
	var buf []byte
	var errs []error
	kept := 0
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		raw, err := marshal(it)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l, _ := json.Marshal(line{Kind: kind, Item: raw})
		buf = append(append(buf, l...), '\n')
		kept++
	}
	if kept == 0 {
		return 0, errors.Join(errs...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	if _, err := file.Write(buf); err != nil {
		return 0, err // a short write may leave a torn last line: read skips it
	}
	if err := file.Sync(); err != nil {
		return 0, err
	}
	return kept, errors.Join(errs...)
}

// marshal is json.Marshal under recover: an item's marshaller is not ours.
func marshal(v any) (raw []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("MarshalJSON panicked")
		}
	}()
	return json.Marshal(v)
}

func (f *fileKeeper) read(t *testing.T, kind string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var ids []int
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var l line
		var it item
		if json.Unmarshal(sc.Bytes(), &l) != nil || json.Unmarshal(l.Item, &it) != nil || l.Kind != kind {
			continue
		}
		ids = append(ids, it.ID)
	}
	return ids
}

type item struct {
	ID int `json:"id"`
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("MarshalJSON broke") }

func TestFileKeeperConformance(t *testing.T) {
	keepertest.Run(t, keepertest.Harness{
		New: func(t *testing.T) (fxasync.Keeper, func(string) []int) {
			k := &fileKeeper{path: filepath.Join(t.TempDir(), "kept.jsonl")}
			return k, func(kind string) []int { return k.read(t, kind) }
		},
		Kinds:      []string{"usage-rows", "stream-events"},
		Item:       func(_ string, id int) any { return item{ID: id} },
		Unstorable: func() []any { return []any{panicky{}, make(chan int)} },
	})
}

// A Keeper that keeps nothing while it says it kept all, or claims more
// than it was given, fails the suite: the suite is not a check that cannot
// fail. Each runs the suite in a child process, which must fail.
func TestSuiteCatchesALyingKeeper(t *testing.T) {
	for name, want := range map[string]string{"forgets": "stored 0 item(s)", "overclaims": "Keep(100 items) = 101"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLyingKeeperChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), liarEnv+"="+name)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("a Keeper that %s passed the suite:\n%s", name, out)
		} else if !strings.Contains(string(out), want) {
			t.Errorf("a Keeper that %s failed the suite, but not saying %q:\n%s", name, want, out)
		}
	}
}

const liarEnv = "KEEPERTEST_LIAR"

// TestLyingKeeperChild is TestSuiteCatchesALyingKeeper's child: it runs
// the suite against a lying Keeper, and must fail.
func TestLyingKeeperChild(t *testing.T) {
	claim := map[string]func(int) int{"forgets": func(n int) int { return n }, "overclaims": func(n int) int { return n + 1 }}[os.Getenv(liarEnv)]
	if claim == nil {
		t.Skip("run by TestSuiteCatchesALyingKeeper")
	}
	keepertest.Run(t, keepertest.Harness{
		New: func(*testing.T) (fxasync.Keeper, func(string) []int) {
			return liar{claim}, func(string) []int { return nil }
		},
		Kinds: []string{"a", "b"},
		Item:  func(_ string, id int) any { return item{ID: id} },
	})
}

type liar struct{ claim func(n int) int }

func (l liar) Keep(_ context.Context, _ string, items []any) (int, error) {
	return l.claim(len(items)), nil
}
