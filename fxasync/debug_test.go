package fxasync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileLabels are labels a user might pass that a page must show as text.
var hostileLabels = []string{`<script>document.title="pwned"</script>`, `"><img src=x onerror="document.title='pwned'">`,
	"bytes-\xff\xfe-invalid"}

// debugRig is a scheduler mid-stop: thousands of labels, hostile ones, a
// batcher, tasks still running while the drain waits for them.
func debugRig(t *testing.T) (*fxasync.Scheduler, func()) {
	s, _ := newScheduler(t, fxasync.Config{MaxLabels: 5000, CallSites: true})
	release := make(chan struct{})
	for i := 0; i < 3000; i++ {
		s.Go(context.Background(), fmt.Sprint("label-", i), ok)
	}
	for _, l := range hostileLabels {
		s.Go(context.Background(), l, func(context.Context) error { <-release; return nil })
	}
	b := fxasync.NewBatcher(s, "usage-rows", func(context.Context, []int) error { return nil }, fxasync.BatcherConfig{})
	require.NoError(t, b.TryAdd(1))
	waitUntil(t, func() bool { // every label counted: the batcher's once its first write ran
		return len(s.Running()) == len(hostileLabels) && s.Stats().Total.Succeeded >= 3000 && b.Stats().Flushed == 1
	})
	drained := make(chan struct{})
	go func() { _ = s.Drain(context.Background()); close(drained) }()
	<-s.Draining()
	return s, func() { close(release); <-drained }
}

// The JSON answer holds the figures in snake_case with units, at most 200
// labels (the most pending first) and the rest counted, labels cleaned.
func TestDebugHandlerJSON(t *testing.T) {
	s, done := debugRig(t)
	defer done()
	rec := httptest.NewRecorder()
	fxasync.DebugHandler(s).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/tasks", nil))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var d struct {
		Pending, Running int
		Draining         bool
		Labels           []map[string]any
		LabelsNotShown   int `json:"labels_not_shown"`
		Batchers         []map[string]any
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
	assert.True(t, d.Draining)
	assert.Equal(t, 3, d.Running)
	assert.Len(t, d.Labels, 200)
	assert.Equal(t, 3000+3+1-200, d.LabelsNotShown)
	assert.Equal(t, float64(1), d.Labels[0]["pending"], "the most pending first")
	assert.Contains(t, d.Labels[0], "oldest_running")
	oldest := d.Labels[0]["oldest_running"].([]any)[0].(map[string]any)
	assert.Contains(t, oldest, "age_seconds")
	assert.Contains(t, oldest["caller"], "debug_test.go")
	var labels []string
	for _, l := range d.Labels {
		labels = append(labels, l["label"].(string))
	}
	assert.Contains(t, labels, "bytes-\uFFFD-invalid", "cleaned at submission")
	require.Len(t, d.Batchers, 1)
	for _, key := range []string{"label", "pending", "pending_bytes", "written", "rate_per_second"} {
		assert.Contains(t, d.Batchers[0], key)
	}
	assert.NotContains(t, rec.Body.String(), `"Label"`, "one naming convention")
}

// The HTML answer escapes every label: what a label holds is shown, never
// run.
func TestDebugHandlerHTMLEscapes(t *testing.T) {
	s, done := debugRig(t)
	defer done()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/debug/tasks", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	fxasync.DebugHandler(s).ServeHTTP(rec, req)
	body := rec.Body.String()
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.NotContains(t, body, "<script>")
	assert.NotContains(t, body, "<img")
	assert.Contains(t, body, "&lt;script&gt;")
	assert.Contains(t, body, "draining: new tasks are refused")
	assert.Contains(t, body, "and 2804 more labels")
}

// A person's view, in headless Chromium (Debian's chromium; .ci/run installs
// it): the page renders the hostile labels as text — no injected script
// or handler ran (the title is the page's) — and shows the stop in
// progress. The screenshot is kept as the run's artifact (its path is
// logged), not committed.
func TestDebugPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing in CI: .ci/run must install Debian's chromium package")
		}
		t.Skip("chromium is not installed: skipping the browser test (.ci/run installs it)")
	}
	s, done := debugRig(t)
	defer done()
	srv := httptest.NewServer(fxasync.DebugHandler(s))
	defer srv.Close()
	shot := filepath.Join(os.TempDir(), "fxasync-debug-page.png")
	dom := chromium(t, browser, "--dump-dom", srv.URL)
	has := func(s string) bool { return strings.Contains(dom, s) }
	assert.True(t, has("<title>background tasks: 3 pending</title>"), "the page's own title: no injected script or handler ran")
	assert.False(t, has("<img"), "no element from a label")
	assert.True(t, has("&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;"), "the label, shown as text")
	assert.True(t, has("draining: new tasks are refused"), "the stop in progress")
	assert.True(t, has("and 2804 more labels"), "thousands of labels, capped")
	chromium(t, browser, "--screenshot="+shot, "--window-size=1280,1000", srv.URL)
	fi, err := os.Stat(shot)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(10_000), "a page was drawn")
	t.Logf("screenshot: %s", shot)
}

func chromium(t *testing.T, browser string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	out, err := exec.CommandContext(ctx, browser, append(base, args...)...).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
