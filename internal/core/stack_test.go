package core

// This file checks what a blocked task costs in stack.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A blocked task costs the stack a go statement's goroutine costs: the
// worker's own frames (work, execute, runTask, protect) fit beside a small
// task's in the smallest stack (2 KiB), which is then not copied to one twice
// its size. Task middleware once pushed them over: 2,192 more bytes per
// pending task, caught only by BenchmarkPendingMemory.
//
// It measures in a child process with GODEBUG=adaptivestackstart=0: in this
// one, a GC that scanned many deep stacks (an earlier run of this very test)
// makes the runtime start new goroutines with 4 KiB whatever their frames.
func TestBlockedTaskFitsTheSmallestStack(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector enlarges every frame")
	}
	if os.Getenv(stackChildEnv) != "" {
		e, _ := newTestEngine(t, Config{MaxPending: Unbounded})
		fmt.Printf("stack per blocked task: %d\n", stackPerBlocked(10_000, func(f func()) {
			require.NoError(t, e.Go(context.Background(), "blocked", func(context.Context) error { f(); return nil }, 0))
		}))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBlockedTaskFitsTheSmallestStack$", "-test.count=1")
	cmd.Env = append(os.Environ(), stackChildEnv+"=1", "GODEBUG=adaptivestackstart=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var perTask uint64
	_, err = fmt.Sscanf(string(regexp.MustCompile(`stack per blocked task: \d+`).Find(out)), "stack per blocked task: %d", &perTask)
	require.NoError(t, err, "%s", out)
	t.Logf("stack in use per blocked task: %d bytes", perTask)
	assert.Less(t, perTask, uint64(3<<10), "the worker's stack grew past 2 KiB")
}

// stackChildEnv marks the child process of TestBlockedTaskFitsTheSmallestStack.
const stackChildEnv = "FXASYNC_STACK_TEST_CHILD"

// stackPerBlocked starts n functions that block, and returns the stack in
// use per function while they all block.
func stackPerBlocked(n int, start func(f func())) uint64 {
	release := make(chan struct{})
	var blocked, done sync.WaitGroup
	blocked.Add(n)
	done.Add(n)
	before := stackInUse()
	for i := 0; i < n; i++ {
		start(func() {
			defer done.Done()
			blocked.Done()
			<-release
		})
	}
	blocked.Wait()
	after := stackInUse()
	close(release)
	done.Wait()
	return (after - before) / uint64(n)
}

func stackInUse() uint64 {
	runtime.GC() // twice: the first frees ended goroutines' stacks, the second their spans
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}
