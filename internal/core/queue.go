package core

// This file holds the pool's queue.

import "sync/atomic"

// queue is Dmitry Vyukov's intrusive multi-producer queue: push is one atomic
// swap and never blocks, so submitters share no lock. Pop is single-consumer;
// workers serialise it with pool.mu.
type queue struct {
	tail atomic.Pointer[task] // producers
	_    [56]byte             // the producers' word on a cache line of its own
	head *task                // consumer, under pool.mu
	stub task
}

func (q *queue) init() {
	q.head = &q.stub
	q.tail.Store(&q.stub)
}

func (q *queue) push(t *task) {
	prev := q.tail.Swap(t)
	prev.next.Store(t)
}

// empty reports whether no task is queued or being pushed: a push counts from
// its swap on. Call it under the consumer lock.
func (q *queue) empty() bool { return q.head == &q.stub && q.tail.Load() == &q.stub }

// pop removes the oldest task. It returns nil when the queue is empty or when
// a producer is between its swap and its link; callers tell the two apart
// with empty. Call it under the consumer lock.
func (q *queue) pop() *task {
	head, next := q.head, q.head.next.Load()
	if head == &q.stub {
		if next == nil {
			return nil
		}
		q.head, head, next = next, next, next.next.Load()
	}
	if next != nil {
		q.head = next
		return head
	}
	if q.tail.Load() != head {
		return nil // a push is half done
	}
	q.stub.next.Store(nil)
	q.push(&q.stub)
	if next = head.next.Load(); next != nil {
		q.head = next
		return head
	}
	return nil
}
