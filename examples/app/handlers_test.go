package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
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
	db    *DB
	logs  *observer.ObservedLogs
	app   *fxtest.App
}

func newTestService(t *testing.T) *testService {
	t.Helper()
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "test.db")})
	require.NoError(t, err)
	obs, logs := observer.New(zap.InfoLevel)
	s := &testService{logs: logs}
	var h *Handlers
	opts := append(options(cfg), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(obs) }),
		fx.Populate(&h, &s.sched, &s.db))
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

// drain waits for the background work, then counts rows.
func (s *testService) rows(t *testing.T, table string) int {
	t.Helper()
	require.NoError(t, s.sched.Drain(context.Background()))
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

	require.Eventually(t, func() bool { return s.sched.Pending() == 0 }, 10*time.Second, time.Millisecond)
	rec = s.do(t, http.MethodPost, "/v1/chat/completions", body) // a cache hit: no cache-set
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, 2, s.rows(t, "model_usage"))
	labels := map[string]int64{}
	for _, l := range s.sched.Stats().Labels {
		labels[l.Label] = l.Succeeded
	}
	assert.Equal(t, map[string]int64{"log-usage": 2, "cache-set": 1}, labels)
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
	assert.Equal(t, []string{"tracing-ingest", "tracing-stream-span_end", "tracing-stream-span_start"}, labels)
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
	rec = s.do(t, http.MethodGet, "/debug/tasks", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"stats"`)
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
