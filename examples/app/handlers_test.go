package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type testService struct {
	h     http.Handler
	sched *fxasync.Scheduler
	w     *Writers
	db    *DB
	logs  *observer.ObservedLogs
	app   *fxtest.App
}

// newTestService is the service on fxasynctest's scheduler: a task that
// fails, panics or is refused fails the test, and Wait waits for the
// background work without stopping it.
func newTestService(t *testing.T, flags ...string) *testService {
	t.Helper()
	return newServiceWith(t, nil, flags...)
}

// newOverloadedService is newTestService for a test whose refusals are
// meant (503s): they do not fail it.
func newOverloadedService(t *testing.T, flags ...string) *testService {
	t.Helper()
	return newServiceWith(t, []fxasynctest.Option{fxasynctest.AllowFailures()}, flags...)
}

func newServiceWith(t *testing.T, kit []fxasynctest.Option, flags ...string) *testService {
	t.Helper()
	cfg, err := parseFlags(append([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "test.db")}, flags...))
	require.NoError(t, err)
	obs, logs := observer.New(zap.InfoLevel)
	s := &testService{logs: logs}
	var h *Handlers
	opts := append(optionsWith(cfg, fxasynctest.Module(t, kit...)), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(obs) }),
		fx.Populate(&h, &s.sched, &s.db, &s.w))
	s.app = fxtest.New(t, opts...)
	s.app.RequireStart()
	t.Cleanup(s.app.RequireStop)
	s.h = h.Routes()
	return s
}

func (s *testService) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

// rows waits for the background work, then counts rows.
func (s *testService) rows(t *testing.T, table string) int {
	t.Helper()
	fxasynctest.Wait(t, s.sched)
	n, err := s.db.Count(context.Background(), table)
	require.NoError(t, err)
	return n
}

func TestChatAnswersAndLogsUsageInBackground(t *testing.T) {
	s := newTestService(t)
	body := `{"model":"m1","messages":[{"role":"user","content":"hello there world"}]}`
	rec := s.do(t, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp chatResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	assert.Equal(t, "chat.completion", resp.Object)
	assert.Equal(t, chatUsage{PromptTokens: 3, CompletionTokens: 8, TotalTokens: 11}, resp.Usage)
	assert.Equal(t, `You said 3 word(s); the first was "hello".`, resp.Choices[0].Message.Content)

	fxasynctest.Wait(t, s.sched)                                 // the cache is set
	rec = s.do(t, http.MethodPost, "/v1/chat/completions", body) // a cache hit: no cache-set
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 2, s.rows(t, "model_usage"))
	labels := map[string]int64{}
	for _, l := range s.sched.Stats().Labels {
		labels[l.Label] = l.Succeeded
	}
	assert.Equal(t, int64(1), labels["cache-set"])
	assert.Contains(t, labels, "usage-rows", "rows are written by the usage batcher's tasks")
	assert.Equal(t, int64(2), s.w.Usage.Stats().Flushed)
}

// When the usage batcher has no room, a chat request is answered 503 with
// Retry-After, and every request answered 200 has its row.
func TestChatOverloadedAnswers503(t *testing.T) {
	s := newOverloadedService(t, "-max-pending-rows", "2", "-batch-size", "1", "-log-delay", "200ms", "-max-wait", "1ms")
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"overload %d"}]}`, i)
		rec := s.do(t, http.MethodPost, "/v1/chat/completions", body)
		codes[rec.Code]++
		if rec.Code == http.StatusServiceUnavailable {
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			var e apiError
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			assert.Equal(t, "server_error", e.Error.Type)
			assert.Contains(t, e.Error.Message, "usage log: ")
		}
	}
	assert.Equal(t, 2, codes[http.StatusOK], "room for two rows")
	assert.Equal(t, 4, codes[http.StatusServiceUnavailable])
	assert.Equal(t, codes[http.StatusOK], s.rows(t, "model_usage"))
}

// A stream larger than the events' room is answered 503, and "accepted"
// counts exactly the events that are stored.
func TestStreamFullAnswersAccepted(t *testing.T) {
	s := newOverloadedService(t, "-max-pending-rows", "5", "-log-delay", "100ms", "-max-wait", "1ms")
	var body strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&body, "{\"type\":\"span_start\",\"i\":%d}\n", i)
	}
	rec := s.do(t, http.MethodPost, "/v1/traces/stream", body.String())
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	var ans streamAnswer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans))
	assert.Equal(t, 5, ans.Accepted)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, 5, s.rows(t, "stream_events"))
}

func TestStreamEventsBound(t *testing.T) {
	s := newTestService(t, "-max-events", "3")
	rec := s.do(t, http.MethodPost, "/v1/traces/stream", strings.Repeat("{\"type\":\"a\"}\n", 4))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, rec.Body.String(), "at most 3 events")
	assert.Equal(t, 0, s.rows(t, "stream_events"))
}

func TestTracesBatchAndStream(t *testing.T) {
	s := newTestService(t)
	rec := s.do(t, http.MethodPost, "/v1/traces",
		`{"spans":[{"trace_id":"t1","span_id":"s1","name":"a"},{"trace_id":"t1","span_id":"s2","name":"b","attributes":{"k":1}}]}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"accepted":2}`, rec.Body.String())

	rec = s.do(t, http.MethodPost, "/v1/traces/stream", "{\"type\":\"span_start\",\"id\":1}\n\n{\"type\":\"span_end\",\"id\":1}\n")
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"accepted":2}`, rec.Body.String())
	assert.Equal(t, 2, s.rows(t, "spans"))
	n, err := s.db.Count(context.Background(), "stream_events")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	var labels []string
	for _, l := range s.sched.Stats().Labels {
		labels = append(labels, l.Label)
	}
	assert.Equal(t, []string{"stream-events", "tracing-ingest"}, labels)
}

func TestHealthReadyAndDebug(t *testing.T) {
	s := newTestService(t)
	rec := s.do(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"ok","pending":0}`, rec.Body.String())
	rec = s.do(t, http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "fxasync_drain_abandoned_tasks 0")
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/readyz", "").Code)
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/livez", "").Code)
	rec = s.do(t, http.MethodGet, "/debug/tasks", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	for _, key := range []string{`"labels"`, `"batchers"`, `"last_drain"`, `"usage-rows"`, `"kept"`} {
		assert.Contains(t, rec.Body.String(), key)
	}
}

// Bad input: a clear 4xx JSON error, no task started, nothing logged as a
// server error.
func TestBadInput(t *testing.T) {
	s := newTestService(t)
	huge := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<20) + `"}]}`
	cases := []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/v1/chat/completions", `{"model":`, 400, "malformed JSON"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model is required"},
		{"/v1/chat/completions", `{"model":"m","messages":[]}`, 400, "messages must hold"},
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, 400, "messages[0].role"},
		{"/v1/chat/completions", huge, 413, "larger than 1 MiB"},
		{"/v1/traces", `{"spans":[{"trace_id":"t"}]}`, 400, "spans[0].span_id is required"},
		{"/v1/traces", `[]`, 400, "malformed JSON"},
		{"/v1/traces/stream", "{\"type\":\"ok\"}\nnot json\n", 400, "line 2: malformed JSON"},
		{"/v1/traces/stream", "{\"type\":\"Bad Type!\"}\n", 400, "line 1: type must match"},
		{"/v1/traces/stream", "", 400, "no event"},
	}
	for _, c := range cases {
		rec := s.do(t, http.MethodPost, c.path, c.body)
		assert.Equal(t, c.status, rec.Code, "%s %.60s", c.path, c.body)
		var e apiError
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
		assert.Contains(t, e.Error.Message, c.msg)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	}
	assert.Equal(t, int64(0), s.sched.Stats().Total.Submitted, "no task started")
	assert.Zero(t, s.logs.FilterLevelExact(zap.ErrorLevel).Len(), "nothing logged as an error")
	assert.Equal(t, http.StatusMethodNotAllowed, s.do(t, http.MethodGet, "/v1/chat/completions", "").Code)
}

// One figure has one value: with a usage row held by its batcher (a batch
// delay of an hour), /healthz, Pending, Stats and the Prometheus gauge all
// say no task is pending, and the batcher's gauge holds the row. /healthz
// once said 2 while Stats and the gauge said 1.
func TestPendingIsOneFigureWithABatcherOpen(t *testing.T) {
	s := newTestService(t, "-batch-delay", "1h")
	body := `{"model":"m1","messages":[{"role":"user","content":"hello"}]}`
	require.Equal(t, http.StatusOK, s.do(t, http.MethodPost, "/v1/chat/completions", body).Code)
	require.Eventually(t, func() bool { return s.sched.Stats().Total.Pending == 0 }, 10*time.Second, time.Millisecond,
		"the cache write finished")
	var health struct{ Pending int }
	require.NoError(t, json.Unmarshal(s.do(t, http.MethodGet, "/healthz", "").Body.Bytes(), &health))
	metrics := s.do(t, http.MethodGet, "/metrics", "").Body.String()
	gauge := 0
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "fxasync_tasks_pending{") {
			var v int
			_, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%d", &v)
			require.NoError(t, err, line)
			gauge += v
		}
	}
	assert.Equal(t, []int{0, 0, 0, 0}, []int{health.Pending, s.sched.Pending(), int(s.sched.Stats().Total.Pending), gauge},
		"/healthz, Pending(), Stats(), fxasync_tasks_pending")
	assert.Contains(t, metrics, `fxasync_batch_items_pending{batcher="usage-rows"} 1`)
}
