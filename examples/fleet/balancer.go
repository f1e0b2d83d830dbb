package main

// This file holds the load balancer: it routes to the replicas whose
// /readyz answers 200 (active checks every 100 ms, as real balancers do),
// and retries a request on another replica only when the connection was
// refused, before anything was sent.

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

type balancer struct {
	backends []*replica
	ready    []atomic.Bool
	next     atomic.Uint64
	client   *http.Client
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newBalancer(backends []*replica) *balancer {
	b := &balancer{backends: backends, ready: make([]atomic.Bool, len(backends)), stop: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for i := range backends {
		b.wg.Add(1)
		go b.check(i)
	}
	return b
}

// check polls one backend's /readyz.
func (b *balancer) check(i int) {
	defer b.wg.Done()
	c := &http.Client{Timeout: 200 * time.Millisecond}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		resp, err := c.Get("http://" + b.backends[i].addr + "/readyz")
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			resp.Body.Close()
		}
		b.ready[i].Store(ok)
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

func (b *balancer) close() {
	close(b.stop)
	b.wg.Wait()
	b.client.CloseIdleConnections()
}

// do sends one request to a ready backend: round robin, and on a refused
// connection (nothing sent) the next ready one, for up to 5 s. It returns
// the response's status and body, or the error of the last try, and which
// process it went to last.
func (b *balancer) do(path string, body []byte) (int, []byte, process, error) {
	var lastErr error = errors.New("no ready replica")
	to := process{replica: -1}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		i, ok := b.pick()
		if !ok {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		to = process{replica: i, gen: b.backends[i].generation()}
		resp, err := b.client.Post("http://"+b.backends[i].addr+path, "application/json", bytes.NewReader(body))
		if err != nil {
			lastErr = err
			if refused(err) {
				b.ready[i].Store(false)
				continue
			}
			return 0, nil, to, err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, out, to, err
	}
	return 0, nil, to, lastErr
}

// process is one run of one replica: its index and how many times it had
// been started.
type process struct{ replica, gen int }

// pick returns the next ready backend, round robin.
func (b *balancer) pick() (int, bool) {
	for range b.backends {
		i := int(b.next.Add(1) % uint64(len(b.backends)))
		if b.ready[i].Load() {
			return i, true
		}
	}
	return 0, false
}

// refused reports a connection that was never made: nothing was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
