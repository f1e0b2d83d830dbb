package main

// This file holds the load: requests at a fixed rate through the balancer,
// each with its own content, and what became of each.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// models are the requests' labels in the ledger.
var models = []string{"m1", "m2", "m3"}

// outcome is one request's end as the client saw it.
type outcome struct {
	to     process // where it went (replica -1: nowhere)
	model  string
	err    string // the transport error
	status int    // 0: a transport error
	id     string // the service's request id, for 2xx
}

type load struct {
	mu       sync.Mutex
	outcomes []outcome
	wg       sync.WaitGroup
}

// run sends rate requests a second until stop closes, then waits for the
// requests in flight.
func (l *load) run(b *balancer, rate int, stop <-chan struct{}) {
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			l.wg.Wait()
			return
		case <-t.C:
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.record(send(b, n))
		}()
	}
}

func send(b *balancer, n int) outcome {
	o := outcome{model: models[n%len(models)]}
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"drill request %d"}]}`, o.model, n)
	status, out, to, err := b.do("/v1/chat/completions", []byte(body))
	o.to = to
	if err != nil {
		o.err = err.Error()
		return o
	}
	o.status = status
	if status == http.StatusOK {
		var r struct{ ID string }
		if json.Unmarshal(out, &r) == nil {
			o.id = r.ID
		}
	}
	return o
}

func (l *load) record(o outcome) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
}

// answered is how many requests were answered 2xx so far.
func (l *load) answered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.outcomes {
		if o.status == http.StatusOK {
			n++
		}
	}
	return n
}
