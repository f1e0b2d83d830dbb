package main

// This file holds the replicas: the example service's binary, started on a
// free loopback port, stopped with SIGTERM or killed with SIGKILL.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// buildService builds the example service once.
func buildService() (string, func(), error) {
	dir, err := os.MkdirTemp("", "fleet")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../app"
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build the service: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// replica is one process of the service; it keeps its address across
// restarts, so the balancer's list stays the same.
type replica struct {
	bin  string
	args []string
	addr string

	mu     sync.Mutex
	gen    int // starts so far
	cmd    *exec.Cmd
	exited chan struct{}
	drains []time.Duration // "async tasks drained" took, from its stops
	maxRSS int64           // the largest peak resident set of its exited processes, in bytes
}

func newReplica(bin string, args []string) (*replica, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	return &replica{bin: bin, args: args, addr: addr}, nil
}

// start runs the process and waits until it is ready.
func (r *replica) start() error {
	cmd := exec.Command(r.bin, append([]string{"-addr", r.addr}, r.args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go r.readLog(stderr, cmd, exited)
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.gen++
	r.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + r.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("replica %s not ready after 30 s", r.addr)
}

// readLog keeps the drain durations the process logs, then reaps it.
func (r *replica) readLog(stderr interface{ Read([]byte) (int, error) }, cmd *exec.Cmd, exited chan struct{}) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string
			Took float64
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "async tasks drained" {
			r.mu.Lock()
			r.drains = append(r.drains, time.Duration(l.Took*float64(time.Second)))
			r.mu.Unlock()
		}
	}
	_ = cmd.Wait()
	close(exited)
}

// stop sends SIGTERM and waits for the exit; it returns the exit code.
func (r *replica) stop() int { return r.signal(syscall.SIGTERM) }

// kill sends SIGKILL and waits for the exit.
func (r *replica) kill() { r.signal(syscall.SIGKILL) }

func (r *replica) signal(sig syscall.Signal) int {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.mu.Lock()
		r.maxRSS = max(r.maxRSS, ru.Maxrss<<10) // Linux reports KiB
		r.mu.Unlock()
	}
	return cmd.ProcessState.ExitCode()
}

// peakRSS is the largest peak resident set of the replica's exited processes.
func (r *replica) peakRSS() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxRSS
}

func (r *replica) drainTimes() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.drains...)
}

func (r *replica) generation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}
