package core

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The pool runs queued tasks on worker goroutines, one task after another.
//
// Invariant: while the queue is not empty, at least one worker is spare (not
// running a task), so no queued task waits behind a task that blocks.
//   - push queues a task, then signal wakes a parked worker or, when none is
//     spare, starts one;
//   - take pops under mu and, if that leaves no worker spare while tasks
//     remain, counts a new worker in before unlocking; a busy worker, done
//     with its task, takes the next without becoming spare in between;
//   - a parked worker leaves only under mu, and only when the queue is empty;
//   - every other change to spare adds to it.
//
// So the invariant holds whenever no push is half done ([pool.check]).
//
// Wake-ups: a parked worker sleeps on wake, a channel of capacity one. A token
// that cannot be sent because one is already there is not lost: the worker
// that takes the pending token and finds more queued behind its task sends
// the next one (take), so parked workers wake in a chain. Spinning is bounded:
// spinRounds yields, then the worker parks, also when a push is half done;
// the pusher's signal after its link wakes it (both sides write, then read
// the other's word, so one of them sees the other).
//
// Layout, one cache line each: the words a submitter reads on every push
// (spare, parked, wake), rarely written; fresh, which submitters take and
// workers fill; the queue's tail, which submitters swap; the queue's head
// and mu, which workers write on every take.
type pool struct {
	spare   atomic.Int32 // workers not running a task, parked ones included
	parked  atomic.Int32 // spare workers asleep in park
	wake    chan struct{}
	quit    chan struct{} // closed when the engine has drained: idle workers exit
	_       [40]byte
	fresh   atomic.Pointer[task] // a record never used, for the next submission (see spareTask)
	_       [56]byte
	q       queue
	mu      sync.Mutex // q's consumer side and the worker list
	workers *worker    // head of the intrusive list of live workers
	run     func(*task)
	idle    time.Duration
}

// spinRounds is how many times a worker that found no task yields before it
// parks: a submitter about to push saves a wake-up.
const spinRounds = 4

type worker struct {
	cur        atomic.Pointer[task] // the task it runs, for Running
	idle       *time.Timer
	prev, next *worker // in pool.workers, under pool.mu: a list costs no allocation per worker
}

func newPool(run func(*task), idle time.Duration) *pool {
	p := &pool{wake: make(chan struct{}, 1), quit: make(chan struct{}), run: run, idle: idle}
	p.q.init()
	return p
}

// push queues t and makes sure a spare worker will see it.
func (p *pool) push(t *task) {
	p.q.push(t)
	p.signal()
}

func (p *pool) signal() {
	if p.parked.Load() > 0 {
		select {
		case p.wake <- struct{}{}:
		default: // a token is pending; its taker passes the next on
		}
		return
	}
	if p.spare.Load() == 0 {
		p.spare.Add(1)
		go p.work()
	}
}

func (p *pool) work() {
	w := &worker{}
	p.mu.Lock()
	w.next = p.workers
	if w.next != nil {
		w.next.prev = w
	}
	p.workers = w
	p.mu.Unlock()
	defer p.retire(w) // also when a task calls runtime.Goexit
	for t := p.next(w); t != nil; t = p.next(w) {
		// A busy worker takes the next task before it counts itself spare:
		// a stream of tasks costs no spare count and no store per task.
		for ; t != nil; t = p.take(false) {
			w.cur.Store(t)
			p.run(t)
			if p.fresh.Load() == nil {
				p.fresh.Store(spareTask())
			}
		}
		w.cur.Store(nil)
		p.spare.Add(1)
	}
}

func (p *pool) retire(w *worker) {
	if w.idle != nil {
		w.idle.Stop()
	}
	p.mu.Lock()
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		p.workers = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	p.mu.Unlock()
}

// next returns the next task for a spare worker, or nil when the worker
// should exit (it is then no longer counted as spare).
func (p *pool) next(w *worker) *task {
	for {
		for spins := 0; spins < spinRounds; spins++ {
			if t := p.take(true); t != nil {
				return t
			}
			runtime.Gosched()
		}
		if t, stay := p.park(w); !stay || t != nil {
			return t
		}
	}
}

// take pops a task and commits this worker to it; see the invariant. A spare
// worker gives its place up, and counts a new one in if that leaves none
// while tasks remain. A busy worker, done with its task, has no place to
// give, and the invariant held before it took: another is spare.
func (p *pool) take(spare bool) *task {
	p.mu.Lock()
	t := p.q.pop()
	if t == nil {
		p.mu.Unlock()
		return nil
	}
	more := !p.q.empty()
	spawn := spare && p.spare.Add(-1) == 0 && more
	if spawn {
		p.spare.Add(1)
	}
	p.mu.Unlock()
	switch {
	case spawn:
		go p.work()
	case more && p.parked.Load() > 0:
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// park sleeps until a wake-up, the idle timeout or quit. It returns a task
// found on the way in, and stay=false when the worker should exit.
func (p *pool) park(w *worker) (t *task, stay bool) {
	p.parked.Add(1)
	if t = p.take(true); t != nil { // after parked is visible: see the invariant
		p.parked.Add(-1)
		return t, true
	}
	if w.idle == nil {
		w.idle = time.NewTimer(p.idle)
	} else {
		w.idle.Reset(p.idle)
	}
	select {
	case <-p.wake:
		p.parked.Add(-1)
		return nil, true
	case <-w.idle.C:
	case <-p.quit:
	}
	p.parked.Add(-1)
	return nil, p.stay()
}

// stay keeps a worker that timed out when a task came in meanwhile.
func (p *pool) stay() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.q.empty() {
		p.spare.Add(-1)
		return false
	}
	return true
}

// close lets idle workers exit.
func (p *pool) close() { close(p.quit) }

// running calls f for each task on a worker now.
func (p *pool) running(f func(*task)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := p.workers; w != nil; w = w.next {
		if t := w.cur.Load(); t != nil {
			f(t)
		}
	}
}

var errNoSpare = errors.New("pool: tasks are queued and no worker is spare")

// check tests the invariant. It is for tests: call it when no push is in
// progress.
func (p *pool) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.q.empty() && p.spare.Load() <= 0 {
		return errNoSpare
	}
	return nil
}
