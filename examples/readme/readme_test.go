package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every ```go block of README.md and docs/*.md is found, word for word, in
// a file of this program (handler_test.go, the README's test, included) or
// of the example service (examples/app, whose own module's tests compile
// it): if a snippet stops compiling, so does its package, and if the docs
// drift from the code, this test says which block.
func TestREADMESnippetsAreThisCode(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	var blocks []string
	for _, name := range append([]string{"../../README.md"}, docs...) {
		md, err := os.ReadFile(name)
		require.NoError(t, err)
		blocks = append(blocks, goBlocks(string(md))...)
	}
	require.NotEmpty(t, blocks)
	var code strings.Builder
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	app, err := filepath.Glob("../app/*.go") // its own module, compiled by its tests
	require.NoError(t, err)
	files = append(files, app...)
	for _, f := range files {
		if f == "handler_test.go" || !strings.HasSuffix(f, "_test.go") { // handler_test.go: README's test
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			code.Write(b)
		}
	}
	for i, b := range blocks {
		assert.True(t, strings.Contains(code.String(), b), "go block %d of README.md and docs/ is not code of examples/readme or examples/app:\n%s", i+1, b)
	}
}

// goBlocks returns the bodies of the ```go blocks of a Markdown text.
func goBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```go\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		out = append(out, strings.TrimRight(body, "\n"))
	}
	return out
}

// The quick start builds, starts and stops.
func TestQuickStartApp(t *testing.T) {
	app := newApp()
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, app.Stop(context.Background()))
}

// The handler answers before its usage row is written, and the row is
// written before the database closes: the drain runs first.
func TestHandlerRowWrittenBeforeTheDatabaseCloses(t *testing.T) {
	var h *Handler
	var db *DB
	app := fxtest.New(t, fx.Supply(zap.NewNop()), configured, fxasync.Module, fxasync.DrainBefore[*DB](),
		fx.Provide(OpenDB, NewHandler), fx.Populate(&h, &db))
	app.RequireStart()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/chat", nil))
	assert.Equal(t, 204, rec.Code)
	app.RequireStop()
	assert.Equal(t, []Usage{{Path: "/v1/chat"}}, db.rows)
	assert.True(t, db.closed)
}

// The fxshutdown example stops in the order its comment says.
func TestShutdownOrder(t *testing.T) {
	var sd *fxshutdown.Shutdown
	app := fxtest.New(t, append(app, fx.Supply(zap.NewNop()), fx.Populate(&sd))...)
	app.RequireStart().RequireStop()
	var names []string
	for _, o := range sd.Outcomes() {
		names = append(names, o.Name)
	}
	assert.Equal(t, []string{"http-server", fxasync.StepName, "cache", "runtime-pool"}, names)
}

// docs/faults.md's settings do what it says: a usage write that fails is
// retried until it lands, a Permanent one is not, other labels try once.
func TestRetryConfigRetriesTheUsageWrites(t *testing.T) {
	cfg := retryConfig()
	cfg.Logger = zap.NewNop()
	s := fxasync.New(cfg)
	db := &DB{}
	failures := 2
	s.Go(context.Background(), "log-usage", func(ctx context.Context) error {
		if failures > 0 { // the database is away for two attempts
			failures--
			return assert.AnError
		}
		return insertUsageOnce(ctx, db, Usage{Path: "/v1/chat"})
	})
	s.Go(context.Background(), "log-usage", func(ctx context.Context) error { return insertUsageOnce(ctx, db, Usage{}) })
	s.Go(context.Background(), "other", func(context.Context) error { return assert.AnError })
	require.NoError(t, s.Drain(context.Background()))
	st := map[string]fxasync.LabelStats{}
	for _, l := range s.Stats().Labels {
		st[l.Label] = l
	}
	assert.Equal(t, [3]int64{1, 1, 2}, [3]int64{st["log-usage"].Succeeded, st["log-usage"].Failed, st["log-usage"].Retries})
	assert.Equal(t, [2]int64{1, 0}, [2]int64{st["other"].Failed, st["other"].Retries})
	assert.Len(t, db.rows, 1)
}
