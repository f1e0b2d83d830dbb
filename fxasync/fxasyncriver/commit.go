package fxasyncriver

// This file holds group commit: the committers that insert many durable
// submissions' jobs in one transaction, and release each caller when the
// transaction holding its jobs has committed.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// maxGroup is the most tasks one group commit gathers (a larger SubmitMany
// is a commit of its own), and the most jobs one fast-path batch claims.
const maxGroup = 1000

// submission is one Submit or SubmitMany waiting for its commit.
type submission struct {
	ctx    context.Context // the caller's: one that gave up is not inserted
	kind   submitter
	args   any                      // the kind's []T
	params []river.InsertManyParams // its jobs, leased for the fast path
	done   chan error               // buffered: a committer never waits on a caller
	way    int                      // how the committer kept it: leased, written, handed
}

// How a committer keeps a submission's tasks.
const (
	leased  = iota // as jobs, leased, for the fast path to claim and write (a kind with Before)
	written        // written by its handler in the commit's own transaction
	handed         // as jobs runnable at once: the handler failed there
)

// submitter is a kind, as the committers see it.
type submitter interface {
	// direct reports whether the kind's tasks are written in their
	// submission's transaction: it has no Before work.
	direct() bool
	// writeDirect writes the tasks of subs, all of the kind, in tx.
	writeDirect(ctx context.Context, tx *sql.Tx, subs []*submission) error
	// runCommitted starts the fast path of the kind's jobs just committed.
	runCommitted(rows []*rivertype.JobRow)
	counters() *kindStats
	label() string
}

// committers insert submissions in groups: each takes the first waiting
// submission and every other already waiting (up to maxGroup jobs, or for
// Config.CommitWindow after the first), and commits them in one
// transaction. Under load a group is what gathered while the previous
// transaction ran, so its size follows the load with no wait added.
type committers struct {
	h      *HandOff
	client *river.Client[*sql.Tx]
	queue  chan *submission
	ctx    context.Context // ends when Stop's time for the committers does
	cancel context.CancelFunc
	wg     sync.WaitGroup
	groups atomic.Int64 // transactions committed: tasks per commit is (Inserted + Direct) over this
}

func startCommitters(h *HandOff, c *river.Client[*sql.Tx]) *committers {
	ctx, cancel := context.WithCancel(context.Background())
	cm := &committers{h: h, client: c, queue: make(chan *submission, h.cfg.CommitQueue), ctx: ctx, cancel: cancel}
	for range h.cfg.Committers {
		cm.wg.Add(1)
		go cm.run()
	}
	return cm
}

// enqueue hands s to the committers, or refuses it: not started, or the
// queue is full. Under h.mu, so that stop never closes the queue under a
// send.
func (h *HandOff) enqueue(s *submission) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.commits == nil {
		return ErrNotStarted
	}
	select {
	case h.commits.queue <- s:
		return nil
	default:
		return fmt.Errorf("fxasyncriver: %w: %d submissions wait for their commit", fxasync.ErrFull, cap(h.commits.queue))
	}
}

// stop lets the committers keep what is queued until ctx ends, then
// cancels their transactions, which fails what is left, and returns: a
// handler that ignores its context is left behind, not waited for. Called
// once enqueue refuses (h.commits is nil).
func (cm *committers) stop(ctx context.Context) {
	if cm == nil {
		return
	}
	close(cm.queue)
	done := make(chan struct{})
	go func() { cm.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	cm.cancel()
}

func (cm *committers) run() {
	defer cm.wg.Done()
	var group []*submission
	for first := range cm.queue {
		group = cm.gather(append(group[:0], first))
		cm.commit(group)
		clear(group)
	}
}

// gather adds to group the submissions waiting now, and those arriving
// within the commit window, up to maxGroup jobs.
func (cm *committers) gather(group []*submission) []*submission {
	var window <-chan time.Time
	if w := cm.h.cfg.CommitWindow; w > 0 {
		t := time.NewTimer(w)
		defer t.Stop()
		window = t.C
	}
	for n := len(group[0].params); n < maxGroup; {
		s, ok := cm.poll(window)
		if !ok {
			return group
		}
		group = append(group, s)
		n += len(s.params)
	}
	return group
}

// poll returns a submission waiting now or, with a window, arriving before
// it ends; false when there is none (or the queue is closed).
func (cm *committers) poll(window <-chan time.Time) (*submission, bool) {
	select {
	case s, ok := <-cm.queue:
		return s, ok
	default:
	}
	if window == nil {
		return nil, false
	}
	select {
	case s, ok := <-cm.queue:
		return s, ok
	case <-window:
		return nil, false
	}
}

// commit keeps the tasks of the group's callers still waiting in one
// transaction, answers each with its outcome, and starts the fast paths.
func (cm *committers) commit(group []*submission) {
	live := group[:0]
	for _, s := range group {
		if err := s.ctx.Err(); err != nil {
			s.done <- context.Cause(s.ctx) // it returned already: nothing kept
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 {
		return
	}
	rows, err := cm.keep(live)
	if err == nil { // counted before any caller is answered: its figures include it
		cm.groups.Add(1)
		cm.counted(live, rows)
	}
	for _, s := range live {
		s.done <- err
	}
	if err == nil {
		cm.h.startFastPaths(rows)
	}
}

// keep keeps the group's tasks in one transaction and returns the rows of
// the jobs inserted. When a kind's handler fails there, the transaction is
// rolled back and tried again with that kind's tasks handed to River, as
// jobs runnable at once, for River's worker to retry one by one.
func (cm *committers) keep(group []*submission) (_ []*rivertype.JobRow, err error) {
	defer func() { // the committer outlives whatever panicked: the group fails with it
		if p := recover(); p != nil {
			err = fmt.Errorf("fxasyncriver: submit: panic: %s", render(p))
		}
	}()
	for {
		var rows []*rivertype.JobRow
		var failed *handlerError
		err := cm.h.inTx(cm.ctx, func(tx *sql.Tx) error {
			jobs, err := cm.write(tx, group)
			if err != nil || len(jobs) == 0 {
				return err
			}
			res, err := cm.client.InsertManyTx(cm.ctx, tx, jobs)
			for _, r := range res {
				rows = append(rows, r.Job)
			}
			return err
		})
		if !errors.As(err, &failed) || cm.ctx.Err() != nil {
			if err != nil {
				return nil, fmt.Errorf("fxasyncriver: submit: %w", err)
			}
			return rows, nil
		}
		cm.h.log.Warn("fxasyncriver: a handler failed in its commit; the commit is tried again with its tasks as River jobs",
			"kind", render(failed.sub.label()), "error", render(failed.err))
		for _, s := range group {
			if s.kind == failed.sub {
				s.way = handed
			}
		}
	}
}

// handlerError is a kind's handler failing in a commit.
type handlerError struct {
	sub submitter
	err error
}

func (e *handlerError) Error() string { return render(e.sub.label()) + ": " + e.err.Error() }

// write writes in tx the tasks of kinds without Before work, and returns
// the jobs to insert: the other kinds', leased for their fast path, and
// those handed to River. A handler's error is a *handlerError.
func (cm *committers) write(tx *sql.Tx, group []*submission) (jobs []river.InsertManyParams, err error) {
	done := map[submitter]bool{}
	for i, s := range group {
		switch {
		case s.way == handed:
			jobs = append(jobs, runnable(s.params)...)
			continue
		case !s.kind.direct():
			s.way = leased
			jobs = append(jobs, s.params...)
			continue
		case done[s.kind]:
			continue // written with an earlier one of its kind
		}
		same := []*submission{s}
		for _, o := range group[i+1:] {
			if o.kind == s.kind {
				same = append(same, o)
			}
		}
		if err := s.kind.writeDirect(cm.ctx, tx, same); err != nil {
			return nil, &handlerError{sub: s.kind, err: err}
		}
		for _, o := range same {
			o.way = written
		}
		done[s.kind] = true
	}
	return jobs, nil
}

// runnable is params without their lease: for River to run at once.
func runnable(params []river.InsertManyParams) []river.InsertManyParams {
	out := make([]river.InsertManyParams, len(params))
	for i, p := range params {
		out[i] = river.InsertManyParams{Args: p.Args, InsertOpts: &river.InsertOpts{Queue: p.InsertOpts.Queue}}
	}
	return out
}

func tasks(subs []*submission) (n int) {
	for _, s := range subs {
		n += len(s.params)
	}
	return n
}

// counted counts the committed group's tasks: jobs inserted (rows), tasks
// written, and tasks handed to River.
func (cm *committers) counted(group []*submission, rows []*rivertype.JobRow) {
	for _, r := range rows {
		cm.h.kinds[r.Kind].inserted.Add(1)
	}
	for _, s := range group {
		switch s.way {
		case written:
			s.kind.counters().direct.Add(int64(len(s.params)))
		case handed:
			s.kind.counters().deferred.Add(int64(len(s.params)))
		}
	}
}

// startFastPaths starts, for each kind among the leased jobs of rows, one
// fast path for all of its jobs.
func (h *HandOff) startFastPaths(rows []*rivertype.JobRow) {
	rows = slices.DeleteFunc(rows, func(r *rivertype.JobRow) bool { return r.State != rivertype.JobStateScheduled })
	for len(rows) > 0 {
		kind, same := rows[0].Kind, 0
		for i, r := range rows { // the kind's rows first, the others after
			if r.Kind == kind {
				rows[same], rows[i] = rows[i], rows[same]
				same++
			}
		}
		h.fast[kind].runCommitted(rows[:same])
		rows = rows[same:]
	}
}
