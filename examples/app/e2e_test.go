package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// process is the built service, running.
type process struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  bytes.Buffer // everything the service logged
	done chan struct{}
}

func buildService(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func startService(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	listening, started := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				listening <- l.Addr
			}
			if l.Msg == "application started" {
				close(started)
			}
		}
	}()
	timeout := time.After(60 * time.Second)
	ok := false
	select {
	case p.addr = <-listening:
		ok = true
	case <-timeout:
	}
	if ok {
		select {
		case <-started: // a signal from now on stops it; before, it cancels the start
		case <-timeout:
			ok = false
		}
	}
	if !ok {
		_ = p.cmd.Process.Kill()
		t.Fatalf("service did not start; log:\n%s", p.logs())
	}
	return p
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and returns the exit code and how long the exit took.
func (p *process) stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(start)
		}
		require.NoError(t, err)
		return 0, time.Since(start)
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("service did not exit; log:\n%s", p.logs())
		return -1, 0
	}
}

// chat sends n concurrent chat requests and returns how many were answered.
func chat(t *testing.T, addr string, n int) int {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"request number %d"}]}`, i)
			resp, err := client.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return answered
}

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	db := openDSN(t, dsn)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// waitForRows polls until table holds n rows or more, for up to 30 s, on
// the test's goroutine: a failed query fails the test (in require.Eventually's
// goroutine it panicked the test binary once the test had ended).
func waitForRows(t *testing.T, dsn, table string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for got := countRows(t, dsn, table); got < n; got = countRows(t, dsn, table) {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d rows after 30 s, want %d", table, got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openDSN opens what -db names: a SQLite file or a Postgres URL.
func openDSN(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "sqlite", "file:"+dsn
	if isPostgres(dsn) {
		driver, name = "pgx", dsn
	}
	db, err := sql.Open(driver, name)
	require.NoError(t, err)
	return db
}

// SIGTERM right after the last response, while the usage writes are still
// pending: the stop waits for them, exits 0, and every answered request has
// exactly one usage row — on SQLite and on Postgres.
func TestE2ESIGTERMLosesNoUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	bin := buildService(t)
	t.Run("sqlite", func(t *testing.T) { sigtermLosesNoUsage(t, bin, filepath.Join(t.TempDir(), "e2e.db")) })
	t.Run("postgres", func(t *testing.T) { sigtermLosesNoUsage(t, bin, postgresDB(t)) })
}

func sigtermLosesNoUsage(t *testing.T, bin, dsn string) {
	p := startService(t, bin, "-db", dsn, "-log-delay", "300ms")
	answered := chat(t, p.addr, 300)
	code, _ := p.stop(t)
	log := p.logs()
	require.Equal(t, 0, code, log)
	assert.Equal(t, 300, answered)
	assert.Equal(t, answered, countRows(t, dsn, "model_usage"), log)
	assert.Contains(t, log, `"msg":"async tasks drained"`)
	// The hand-off stops after the drain and before the database; the cache
	// and the pool after the drain, in their own order.
	assertOrder(t, log, `"step":"http-server"`, `"msg":"draining async tasks"`, `"step":"durable-handoff"`,
		`"step":"database"`, `"msg":"shutdown finished"`)
	assertOrder(t, log, `"msg":"draining async tasks"`, `"step":"cache"`, `"step":"runtime-pool"`, `"step":"database"`)
}

// With a drain timeout shorter than the writes, the stop still completes in
// time: the usage rows are handed off to River, and the trace events (no
// hand-off) are lost: the warning names the stuck label, the summary
// states how many events were lost — exactly the events missing — and the
// exit code says so.
func TestE2EDrainTimeoutShorterThanWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	bin := buildService(t)
	dbPath := filepath.Join(t.TempDir(), "e2e.db")
	p := startService(t, bin, "-db", dbPath, "-log-delay", "20s", "-drain-timeout", "200ms")
	require.Equal(t, 20, chat(t, p.addr, 20))
	accepted := stream(t, p.addr, 30)
	code, took := p.stop(t)
	log := p.logs()
	require.Equal(t, 3, code, "ExitLost; log:\n%s", log)
	assert.Less(t, took, 10*time.Second, "the stop did not wait for the 20 s writes")
	warn := lineWith(log, `"msg":"async tasks did not drain in time"`)
	require.NotEmpty(t, warn, log)
	assert.Contains(t, warn, `"running_at_bound":["`)
	assert.Contains(t, warn, `stream-events: `)
	assert.Zero(t, countRows(t, dbPath, "model_usage"), "every write waited 20 s")
	missing := accepted - countRows(t, dbPath, "stream_events")
	assert.Equal(t, 30, missing, "every write waited 20 s")
	summary := lineWith(log, `"msg":"shutdown finished"`)
	assert.Contains(t, summary, fmt.Sprintf(`"lost":%d`, missing))
	assert.Contains(t, summary, fmt.Sprintf(`async-tasks: lost %d (fxasync: lost %d: [stream-events: %d item(s), usage-rows: kept 20]) (handed off 20 task(s) to River)`,
		missing, missing, missing))
	assert.Equal(t, 1, strings.Count(log, `"level":"error"`), "the loss is logged once at ERROR, the summary:\n%s", log)
	assert.Contains(t, lineWith(log, `"level":"error"`), `"msg":"shutdown finished"`)
}

// stream sends one trace stream of n events and returns how many were
// accepted.
func stream(t *testing.T, addr string, n int) int {
	t.Helper()
	body := strings.Repeat(`{"type":"span_event","payload":"x"}`+"\n", n)
	resp, err := http.Post("http://"+addr+"/v1/traces/stream", "application/x-ndjson", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var ans struct{ Accepted int }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	return ans.Accepted
}

func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// assertOrder checks that each marker appears in the log after the one before.
func assertOrder(t *testing.T, log string, markers ...string) {
	t.Helper()
	at := 0
	for _, m := range markers {
		i := strings.Index(log[at:], m)
		if !assert.GreaterOrEqual(t, i, 0, "%s missing after position %d", m, at) {
			return
		}
		at += i + len(m)
	}
}
