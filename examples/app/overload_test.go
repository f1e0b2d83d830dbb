package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overload is one run of the service under load, then SIGTERM.
type overload struct {
	clients, senders int
	duration         time.Duration
	args             []string
	hostile          bool   // a share of the requests carry hostile bytes
	dsn              string // a Postgres URL; "" is a SQLite file
}

// overloadResult is what the run measured.
type overloadResult struct {
	ok, refused, otherStatus, transportErrors int64 // chat answers
	badRequest                                int64 // 400 and 413: hostile requests refused
	distinctIDs                               int   // request ids among the usage rows
	streams, accepted                         int64 // trace stream requests, events accepted
	peakRSS                                   int64 // bytes
	samples                                   []sample
	exitCode                                  int
	stopTook                                  time.Duration
	usageRows, eventRows                      int
	log                                       string
}

// sample is the service's state at one moment of the run.
type sample struct {
	At      time.Duration
	RSS     int64 // bytes
	Pending int
}

// TestOverloadNothingAnsweredIsLost runs the service with its default flags
// under keep-alive chat clients and senders of 1 MB trace streams, then
// SIGTERM: the exit is clean, every request answered 200 has exactly its
// usage row, every event counted as accepted is stored, and memory stays
// bounded. CI runs a short form; FXASYNC_OVERLOAD=full runs the README's
// (128 clients and 4 senders for 20 s), FXASYNC_OVERLOAD=soak 256 clients
// for 60 s.
func TestOverloadNothingAnsweredIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads the service")
	}
	bin := buildService(t)
	for _, db := range []struct {
		name string
		args []string
	}{
		{"fast-db", nil},
		// A database slower than the load: the batchers fill up, requests are
		// refused with 503, and still nothing answered is lost.
		{"slow-db", []string{"-log-delay", "50ms", "-batch-size", "50"}},
	} {
		t.Run(db.name, func(t *testing.T) { overloadOnce(t, bin, db.args) })
	}
}

// TestOverloadHostileInput is the overload run with a quarter of the chat
// requests and a third of the streams carrying hostile bytes (NUL, control
// characters, invalid UTF-8, megabyte fields), on SQLite and on Postgres:
// the hostile ones are refused, and every request answered 200 still has
// exactly one row. CI runs a short form; FXASYNC_OVERLOAD=hostile runs 128
// clients and 4 senders for 60 s.
func TestOverloadHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads the service")
	}
	bin := buildService(t)
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			o := overload{clients: 32, senders: 2, duration: 5 * time.Second, hostile: true}
			if name == "postgres" {
				o.dsn = postgresDB(t)
			}
			if os.Getenv("FXASYNC_OVERLOAD") == "hostile" {
				o.clients, o.senders, o.duration = 128, 4, 60*time.Second
			}
			checkOverload(t, o, o.run(t, bin))

		})
	}
}

func overloadOnce(t *testing.T, bin string, args []string) {
	o := overload{clients: 32, senders: 2, duration: 5 * time.Second, args: args}
	switch os.Getenv("FXASYNC_OVERLOAD") {
	case "full":
		o.clients, o.senders, o.duration = 128, 4, 20*time.Second
	case "soak":
		o.clients, o.senders, o.duration = 256, 4, 60*time.Second
	}
	checkOverload(t, o, o.run(t, bin))
}

// checkOverload logs a run's figures and checks its promises.
func checkOverload(t *testing.T, o overload, r overloadResult) {
	t.Logf("%v clients=%d senders=%d duration=%v hostile=%v: chat 200=%d 503=%d 400=%d other=%d transport-errors=%d; "+
		"streams=%d accepted=%d; usage rows=%d (distinct ids %d) event rows=%d; peak RSS=%.0f MB; exit=%d in %v",
		o.args, o.clients, o.senders, o.duration, o.hostile, r.ok, r.refused, r.badRequest, r.otherStatus, r.transportErrors,
		r.streams, r.accepted, r.usageRows, r.distinctIDs, r.eventRows, float64(r.peakRSS)/(1<<20), r.exitCode,
		r.stopTook.Round(time.Millisecond))
	writeSamples(t, o, r.samples)
	require.Equal(t, 0, r.exitCode, r.log)
	assert.Equal(t, int(r.ok), r.usageRows, "usage rows = requests answered 200")
	assert.Equal(t, r.usageRows, r.distinctIDs, "one row per answered request")
	assert.Equal(t, int(r.accepted), r.eventRows, "stored events = the sum of accepted")
	assert.Zero(t, r.otherStatus, "no answer but 200 and 503")
	assert.Positive(t, r.ok)
	assert.Less(t, r.peakRSS, int64(300<<20), "peak RSS")
	assert.Less(t, r.stopTook, 10*time.Second)
	for _, s := range r.samples {
		assert.LessOrEqual(t, s.Pending, 10_000+1, "pending above the default bound at %v", s.At) // +1: a batcher's hold
	}
}

func (o overload) run(t *testing.T, bin string) overloadResult {
	dbPath := o.dsn
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "overload.db")
	}
	p := startService(t, bin, append([]string{"-db", dbPath}, o.args...)...)
	var r overloadResult
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < o.clients; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); chatLoop(p.addr, i, o.hostile, stop, &r) }()
	}
	for i := 0; i < o.senders; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); streamLoop(p.addr, i, o.hostile, stop, &r) }()
	}
	sampled := make(chan []sample)
	go func() { sampled <- sampleLoop(p, stop) }()
	time.Sleep(o.duration) // the load runs for this long: the figure under test
	close(stop)
	wg.Wait()
	r.samples = <-sampled
	r.peakRSS = procStatus(p.cmd.Process.Pid, "VmHWM")
	r.exitCode, r.stopTook = p.stop(t)
	r.log = p.logs()
	r.usageRows, r.eventRows = countRows(t, dbPath, "model_usage"), countRows(t, dbPath, "stream_events")
	db := openDSN(t, dbPath)
	defer db.Close()
	require.NoError(t, db.QueryRow("SELECT COUNT(DISTINCT request_id) FROM model_usage").Scan(&r.distinctIDs))
	return r
}

// hostileChats are chat bodies a hostile client sends, each with the
// status it must get: NUL and control characters, invalid UTF-8 (which the
// decoder turns into U+FFFD: storable), a megabyte model, a megabyte
// prompt (not stored: answered).
var hostileChats = []struct {
	body   string
	status int
}{
	{`{"model":"m\u0000x","messages":[{"role":"user","content":"nul"}]}`, http.StatusBadRequest},
	{`{"model":"m\u001bx","messages":[{"role":"user","content":"escape"}]}`, http.StatusBadRequest},
	{"{\"model\":\"m\xff\xfex\",\"messages\":[{\"role\":\"user\",\"content\":\"bytes\"}]}", http.StatusOK},
	{`{"model":"` + strings.Repeat("m", 1000_000) + `","messages":[{"role":"user","content":"big model"}]}`, http.StatusBadRequest},
	{`{"model":"m1","messages":[{"role":"user","content":"` + strings.Repeat("w ", 450_000) + `"}]}`, http.StatusOK},
}

// chatLoop sends chat requests until stop; with hostile, one in four is
// one of hostileChats, whose answer must be its status (or 503).
func chatLoop(addr string, id int, hostile bool, stop <-chan struct{}, r *overloadResult) {
	client := &http.Client{Timeout: 30 * time.Second}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"client %d request %d"}]}`, id, n)
		want := http.StatusOK
		if hostile && n%4 == 3 {
			h := hostileChats[(n/4+id)%len(hostileChats)]
			body, want = h.body, h.status
		}
		resp, err := client.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			atomic.AddInt64(&r.transportErrors, 1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusServiceUnavailable:
			atomic.AddInt64(&r.refused, 1)
		case want:
			if want == http.StatusOK {
				atomic.AddInt64(&r.ok, 1)
			} else {
				atomic.AddInt64(&r.badRequest, 1)
			}
		default:
			atomic.AddInt64(&r.otherStatus, 1)
		}
	}
}

// streamBody is about 1 MB of NDJSON events.
var streamBody = func() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 1000_000-100; i++ {
		fmt.Fprintf(&b, "{\"type\":\"span_event\",\"seq\":%d,\"payload\":\"%s\"}\n", i, strings.Repeat("p", 32))
	}
	return b.Bytes()
}()

// hostileStream is streamBody with one line of invalid UTF-8 in the middle:
// refused whole (400), nothing accepted.
var hostileStream = bytes.Replace(streamBody, []byte("\"seq\":5000,"), []byte("\"seq\":5000,\"bad\":\"\xff\","), 1)

func streamLoop(addr string, id int, hostile bool, stop <-chan struct{}, r *overloadResult) {
	client := &http.Client{Timeout: 60 * time.Second}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		body := streamBody
		if hostile && n%3 == 2 {
			body = hostileStream
		}
		resp, err := client.Post("http://"+addr+"/v1/traces/stream", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			atomic.AddInt64(&r.transportErrors, 1)
			continue
		}
		var ans struct{ Accepted int64 }
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		atomic.AddInt64(&r.streams, 1)
		atomic.AddInt64(&r.accepted, ans.Accepted)
		switch {
		case resp.StatusCode == http.StatusBadRequest && hostile:
			atomic.AddInt64(&r.badRequest, 1)
		case resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusServiceUnavailable:
			atomic.AddInt64(&r.otherStatus, 1)
		}
	}
}

// sampleLoop reads the service's RSS and pending tasks every 500 ms.
func sampleLoop(p *process, stop <-chan struct{}) []sample {
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var out []sample
	for {
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
		s := sample{At: time.Since(start), RSS: procStatus(p.cmd.Process.Pid, "VmRSS"), Pending: -1}
		if resp, err := client.Get("http://" + p.addr + "/healthz"); err == nil {
			var h struct{ Pending int }
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			s.Pending = h.Pending
		}
		out = append(out, s)
	}
}

// procStatus reads a "kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// writeSamples saves the run's samples as CSV, one file per subtest, when
// FXASYNC_OVERLOAD_CSV names a folder: the data behind README's figures.
func writeSamples(t *testing.T, o overload, ss []sample) {
	dir := os.Getenv("FXASYNC_OVERLOAD_CSV")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".csv")
	var b strings.Builder
	fmt.Fprintf(&b, "# %v clients=%d senders=%d duration=%v\nseconds,rss_mb,pending\n", o.args, o.clients, o.senders, o.duration)
	for _, s := range ss {
		fmt.Fprintf(&b, "%.1f,%.1f,%d\n", s.At.Seconds(), float64(s.RSS)/(1<<20), s.Pending)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}
