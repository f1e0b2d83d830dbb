package core

import (
	"runtime"
	"sync/atomic"
	"time"
)

// spinRounds is how many times a worker that found the queue empty yields
// before it parks: a submitter that is about to push saves a wake-up.
const spinRounds = 4

// worker is one goroutine that runs tasks one after another.
type worker struct {
	cur        atomic.Pointer[task] // running task, for drain reports
	prev, next *worker              // in Engine.workers, under Engine.mu
	idle       *time.Timer
}

// enqueue queues t and makes sure a spare worker will see it.
//
// The loads below pair with the decrements in take and park: whichever side
// writes last sees the other's write, so a queued task always has a worker.
func (e *Engine) enqueue(t *task) {
	e.q.push(t)
	if e.parked.Load() > 0 {
		select {
		case e.wake <- struct{}{}:
		default: // enough wake-ups are already pending
		}
		return
	}
	if e.spare.Load() == 0 {
		e.spawn()
	}
}

func (e *Engine) spawn() {
	e.spare.Add(1)
	go e.work()
}

func (e *Engine) work() {
	w := &worker{}
	e.mu.Lock()
	e.workers.add(w)
	e.mu.Unlock()
	defer e.retire(w) // also when a task calls runtime.Goexit
	for t := e.next(w); t != nil; t = e.next(w) {
		e.run(w, t)
		e.spare.Add(1)
	}
}

func (e *Engine) retire(w *worker) {
	if w.idle != nil {
		w.idle.Stop()
	}
	e.mu.Lock()
	e.workers.remove(w)
	e.mu.Unlock()
}

// next returns the next task for a spare worker, or nil when the worker should
// exit (it is then no longer counted as spare).
func (e *Engine) next(w *worker) *task {
	for spins := 0; ; spins++ {
		t, empty := e.take()
		switch {
		case t != nil:
			return t
		case !empty || spins < spinRounds:
			runtime.Gosched()
		case !e.park(w):
			return nil
		}
	}
}

// take pops a task and commits this worker to it. If more tasks wait and no
// other worker is spare, it starts one, so no queued task waits behind the
// one this worker is about to run.
func (e *Engine) take() (t *task, empty bool) {
	e.mu.Lock()
	t = e.q.pop()
	if t == nil {
		empty = e.q.empty()
		e.mu.Unlock()
		return nil, empty
	}
	more := e.spare.Add(-1) == 0 && !e.q.empty()
	e.mu.Unlock()
	if more {
		e.spawn()
	}
	return t, false
}

// park blocks a spare worker until a task is pushed. It reports false when the
// worker should exit: idle too long, or the engine has drained.
func (e *Engine) park(w *worker) bool {
	e.parked.Add(1)
	if !e.isEmpty() {
		e.parked.Add(-1)
		return true
	}
	if w.idle == nil {
		w.idle = time.NewTimer(e.cfg.IdleTimeout)
	} else {
		w.idle.Reset(e.cfg.IdleTimeout)
	}
	select {
	case <-e.wake:
		e.parked.Add(-1)
		return true
	case <-w.idle.C:
	case <-e.quit:
	}
	e.parked.Add(-1)
	e.spare.Add(-1)
	if e.isEmpty() {
		return false
	}
	e.spare.Add(1) // a task came in while leaving: stay
	return true
}

func (e *Engine) isEmpty() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.q.empty()
}

// workerList is an intrusive list of live workers, under Engine.mu.
type workerList struct{ head *worker }

func (l *workerList) add(w *worker) {
	w.next = l.head
	if l.head != nil {
		l.head.prev = w
	}
	l.head = w
}

func (l *workerList) remove(w *worker) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}
