// Command overload runs a build of the example service under keep-alive chat
// clients and senders of 1 MB trace streams for a while, and writes one CSV
// row per second: the p99 latency of the chat requests answered in that
// second, the service's pending tasks (from /healthz) and its RSS. It drives
// any revision's binary the same way, so two revisions can be drawn side by
// side (see cmd/plot).
//
//	go run ./cmd/overload -bin /tmp/app-after -out results/x/after.csv
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the example service's binary")
	out := flag.String("out", "overload.csv", "CSV file to write")
	clients := flag.Int("clients", 128, "keep-alive chat clients")
	senders := flag.Int("senders", 4, "senders of 1 MB trace streams")
	duration := flag.Duration("duration", 60*time.Second, "how long the load runs")
	extra := flag.String("args", "", "more flags for the service, space-separated (-durable, -db postgres://…)")
	flag.Parse()
	addr, cmd := start(*bin, strings.Fields(*extra)...)
	var w window
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range *clients {
		wg.Add(1)
		go func() { defer wg.Done(); chat(addr, i, stop, &w) }()
	}
	for range *senders {
		wg.Add(1)
		go func() { defer wg.Done(); stream(addr, stop) }()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	rows, stopped := sample(addr, cmd, *duration, &w, exited, stop)
	wg.Wait()
	header := fmt.Sprintf("# %s %s clients=%d senders=%d duration=%v; SIGTERM at %v: %s\nseconds,p99_ms,pending,rss_mb\n",
		filepath.Base(*bin), *extra, *clients, *senders, *duration, *duration, stopped)
	if err := os.WriteFile(*out, []byte(header+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
}

// killAfter is how long the service may take to exit after SIGTERM before
// it is killed.
const killAfter = 30 * time.Second

// start runs bin on a free loopback port with a new database and waits
// until it answers.
func start(bin string, extra ...string) (string, *exec.Cmd) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir, err := os.MkdirTemp("", "overload")
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-db", filepath.Join(dir, "app.db")}, extra...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr, cmd
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("%s did not answer on %s", bin, addr)
	return "", nil
}

// window holds the latencies of the chat requests answered since the last
// sample.
type window struct {
	mu  sync.Mutex
	lat []float64 // ms
}

func (w *window) add(ms float64) { w.mu.Lock(); w.lat = append(w.lat, ms); w.mu.Unlock() }

// p99 returns the window's p99 (or -1 when no request was answered) and
// starts a new window.
func (w *window) p99() float64 {
	w.mu.Lock()
	lat := w.lat
	w.lat = nil
	w.mu.Unlock()
	if len(lat) == 0 {
		return -1
	}
	sort.Float64s(lat)
	return lat[(len(lat)-1)*99/100]
}

func chat(addr string, id int, stop <-chan struct{}, w *window) {
	client := &http.Client{Timeout: 30 * time.Second}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		body := fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"client %d request %d"}]}`, id, n)
		t0 := time.Now()
		resp, err := client.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		w.add(float64(time.Since(t0).Microseconds()) / 1000)
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

func stream(addr string, stop <-chan struct{}) {
	client := &http.Client{Timeout: 60 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := client.Post("http://"+addr+"/v1/traces/stream", "application/x-ndjson", bytes.NewReader(streamBody))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// sample writes one CSV row per second: for d under load, then, after
// SIGTERM (and stopping the clients), until the service exits, killed if it
// takes longer than killAfter. It returns the rows and how the stop went.
func sample(addr string, cmd *exec.Cmd, d time.Duration, w *window, exited <-chan error, stop chan struct{}) ([]string, string) {
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var rows []string
	var termAt time.Time
	for {
		select {
		case err := <-exited:
			return rows, fmt.Sprintf("exited after %v (%v)", time.Since(termAt).Round(time.Millisecond), err)
		case <-tick.C:
		}
		switch {
		case termAt.IsZero() && time.Since(start) >= d:
			termAt = time.Now()
			close(stop)
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case !termAt.IsZero() && time.Since(termAt) > killAfter:
			_ = cmd.Process.Kill()
			<-exited
			return rows, fmt.Sprintf("killed, still running %v after SIGTERM", killAfter)
		}
		rows = append(rows, fmt.Sprintf("%.0f,%.1f,%d,%.1f", time.Since(start).Seconds(), w.p99(), pending(client, addr), rssMB(cmd.Process.Pid)))
	}
}

// pending reads the service's pending tasks from /healthz, or -1.
func pending(client *http.Client, addr string) int {
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	h := struct{ Pending int }{-1}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h.Pending
}

// rssMB reads VmRSS of /proc/<pid>/status, in MiB.
func rssMB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}
