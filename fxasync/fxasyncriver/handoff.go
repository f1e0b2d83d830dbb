package fxasyncriver

// This file holds the HandOff: River's client on the application's *sql.DB,
// its configuration, and its start and stop.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Dialect is the database River shares with the application.
type Dialect int

const (
	// SQLite: one process owns the file; it sweeps leftover jobs at start.
	SQLite Dialect = iota
	// Postgres, through database/sql (pgx's stdlib driver): replicas share
	// the queue; a dead replica's leased jobs run when their lease ends, and
	// the jobs River was running there after Config.RescueAfter.
	Postgres
)

// Defaults of a zero Config field.
const (
	defaultLease       = 30 * time.Second
	defaultMaxWorkers  = 10
	defaultRescueAfter = 2 * time.Minute
	defaultCommitQueue = 4096
)

// Config configures a HandOff. The zero value is SQLite with the defaults.
type Config struct {
	Dialect Dialect
	// Lease is how long River leaves a durable job to the fast path before
	// running it itself: longer than a task takes, so that River runs only
	// the tasks of a process that died. Default 30 s.
	Lease time.Duration
	// Queue is River's queue for the jobs. Default river.QueueDefault.
	Queue string
	// MaxWorkers is River's workers for the queue. Default 10.
	MaxWorkers int
	// PollInterval is how often River looks for jobs made runnable without
	// a notification (a lease that ended, the sweep, Stop's release).
	// Default River's, 1 s.
	PollInterval time.Duration
	// RescueAfter is how long River's worker may run a job before the job
	// is taken as its dead process's and made runnable again: a job River
	// was running in a replica that was killed runs again within
	// RescueAfter and a PollInterval (Postgres; every replica rescues). River
	// cancels a job's context at half of it. A run that outlives its rescue
	// (a slow process, not a dead one) rolls back instead of writing the
	// effect twice: its transaction holds the job at its attempt. Default
	// 2 min; River's own is an hour.
	RescueAfter time.Duration
	// Committers is how many transactions of submissions (Kind.Submit) may
	// be in flight at once. Each commits, in one transaction, every
	// submission waiting when it starts, up to 1,000 tasks (a larger
	// SubmitMany is a transaction of its own): under load, what gathered
	// while the previous transaction ran. Default 1 on SQLite (one
	// connection), 2 on Postgres.
	Committers int
	// CommitWindow is how long a committer waits, after a first
	// submission, for others to share its transaction: more jobs per
	// transaction, for that much more latency. Default 0: no wait.
	CommitWindow time.Duration
	// CommitQueue bounds the submissions waiting for a committer; one
	// beyond it is refused at once (fxasync.ErrFull). Default 4,096.
	CommitQueue int
	// Logger receives River's logs and the hand-off's, warnings and errors,
	// through Logger.Named("river"). Nil: Slog; without either, stderr.
	// Module fills it from the graph's *zap.Logger, else its *slog.Logger.
	Logger *zap.Logger
	// Slog is used when Logger is nil, as River logs: all its levels.
	Slog *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Lease <= 0 {
		c.Lease = defaultLease
	}
	if c.Queue == "" {
		c.Queue = river.QueueDefault
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = defaultMaxWorkers
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = defaultRescueAfter
	}
	if c.Committers <= 0 {
		c.Committers = 1
		if c.Dialect == Postgres {
			c.Committers = 2
		}
	}
	c.CommitWindow = max(c.CommitWindow, 0)
	if c.CommitQueue <= 0 {
		c.CommitQueue = defaultCommitQueue
	}
	return c
}

// slogger is the *slog.Logger River logs to.
func (c Config) slogger() *slog.Logger {
	switch {
	case c.Logger != nil:
		z := c.Logger.Named("river").WithOptions(zap.IncreaseLevel(zap.WarnLevel))
		return slog.New(zapslog.NewHandler(z.Core(), zapslog.WithName(z.Name())))
	case c.Slog != nil:
		return c.Slog
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// ErrNotStarted is returned by a kind's submissions before Start and after
// Stop.
var ErrNotStarted = errors.New("fxasyncriver: hand-off not started")

// HandOff makes chosen work durable with River: its kinds' tasks run on an
// fxasync.Scheduler, and it is that scheduler's fxasync.Keeper. Without
// fx: New, then fxasync.New(fxasync.Config{Keeper: h}), Register kinds,
// Start; on stop, the scheduler's Drain, then Stop, before the database
// closes (Module orders it so).
type HandOff struct {
	db      *sql.DB
	cfg     Config
	log     *slog.Logger // River's and the hand-off's
	driver  riverdriver.Driver[*sql.Tx]
	workers *river.Workers
	kinds   map[string]*kindStats
	fast    map[string]submitter // each kind's, by name
	err     error                // the first registration error: Start returns it
	working atomic.Int64         // River's workers running a job of a kind now

	mu      sync.Mutex
	client  *river.Client[*sql.Tx] // between Start and Stop
	commits *committers            // between Start and Stop
	out     map[int64]struct{}     // fast-path jobs started and not settled
	keeper  *leaseKeeper           // Postgres: between Start and Stop
	stopped <-chan struct{}        // River's, from Stop: closed once River has wound down
}

// New returns a HandOff that keeps jobs in db, next to the tables the
// handlers write.
func New(db *sql.DB, cfg Config) *HandOff {
	cfg = cfg.withDefaults()
	var d riverdriver.Driver[*sql.Tx] = riversqlite.New(db)
	if cfg.Dialect == Postgres {
		d = riverdatabasesql.New(db)
	}
	h := &HandOff{db: db, cfg: cfg, log: cfg.slogger(), driver: d, workers: river.NewWorkers(),
		kinds: map[string]*kindStats{}, fast: map[string]submitter{}, out: map[int64]struct{}{}}
	return h
}

// Start migrates River's tables, makes leftover jobs runnable (SQLite) and
// starts River's workers. ctx bounds the first two; the workers run until
// Stop, whatever becomes of ctx.
func (h *HandOff) Start(ctx context.Context) error {
	if h.err != nil {
		return h.err
	}
	if err := h.migrate(ctx); err != nil {
		return fmt.Errorf("fxasyncriver: migrate: %w", err)
	}
	h.warnUnknown(ctx)
	c, err := river.NewClient(h.driver, &river.Config{
		Queues:              map[string]river.QueueConfig{h.cfg.Queue: {MaxWorkers: h.cfg.MaxWorkers}},
		Workers:             h.workers,
		Logger:              h.log,
		FetchOnlyKnownKinds: true,
		// No listener: River's SQLite listener polls every 50 ms, on the one
		// connection the application's writes need (it cut a slow database's
		// drain short in the example's overload test). River only keeps and
		// catches up here; polling every PollInterval is enough.
		PollOnly:             true,
		FetchPollInterval:    h.cfg.PollInterval,
		FetchCooldown:        min(h.cfg.PollInterval, river.FetchCooldownDefault),
		RescueStuckJobsAfter: h.cfg.RescueAfter,
		JobTimeout:           h.cfg.RescueAfter / 2,
	})
	if err != nil {
		return fmt.Errorf("fxasyncriver: %w", err)
	}
	if h.cfg.Dialect == SQLite {
		if err := h.sweep(ctx, c); err != nil {
			return fmt.Errorf("fxasyncriver: sweep: %w", err)
		}
	}
	// River runs until Stop, not until ctx ends: River stops hard when the
	// context it was started with does, and fx's OnStart context ends at
	// the start timeout.
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("fxasyncriver: start River: %w", err)
	}
	h.mu.Lock()
	h.client = c
	h.commits = startCommitters(h, c)
	h.mu.Unlock()
	if h.cfg.Dialect == Postgres {
		h.keeper = startLeaseKeeper(h)
	}
	return nil
}

// Stop refuses new submissions and commits those waiting, makes the
// fast-path jobs that did not settle runnable at once (a replica sharing
// the database takes them; with SQLite, the next start), then stops River:
// a soft stop, then a hard one. Call it after the
// scheduler's drain, which hands this HandOff, as its Keeper, what it cut
// short. In an fxshutdown step, the summary notes what was released.
//
// Stop returns before ctx's deadline (without one, within 5 s), whatever
// the database does: the release has half of the time, River's stop the
// rest; the waiting submissions a quarter of it, and those it does not
// commit fail. River is stopped in every case, a panic in the release
// included.
func (h *HandOff) Stop(ctx context.Context) (err error) {
	h.mu.Lock()
	c, cm := h.client, h.commits
	h.client, h.commits = nil, nil
	if c != nil {
		h.stopped = c.Stopped()
	}
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	h.keeper.stop()
	ctx, cancel := boundedStop(ctx)
	defer cancel()
	defer func() { err = errors.Join(err, h.stopRiver(ctx, c)) }()
	commitCtx, cancelCommit := share(ctx, 4)
	cm.stop(commitCtx)
	cancelCommit()
	releaseCtx, cancelRelease := share(ctx, 2)
	defer cancelRelease()
	released, err := h.release(releaseCtx, c)
	if released > 0 {
		fxshutdown.Note(ctx, fmt.Sprintf("made %d leased job(s) runnable", released))
	}
	return err
}

// stopRiver stops River softly for half of ctx's time, then hard. A stop
// that does not end in time while no worker runs a job has left only
// River's own services winding down (with the database away, its leader
// retries its resignation for seconds): no work is at risk, and the leader
// lease expires by itself, so that is a note, not a failure. A job still
// being worked is a failure: it is rescued later, at least once.
func (h *HandOff) stopRiver(ctx context.Context, c *river.Client[*sql.Tx]) error {
	soft, cancel := context.WithTimeout(ctx, time.Until(deadline(ctx))/2)
	defer cancel()
	err := c.Stop(soft)
	if err != nil && ctx.Err() == nil {
		err = c.StopAndCancel(ctx)
	}
	switch {
	case err == nil:
		return nil
	case h.working.Load() == 0:
		fxshutdown.Note(ctx, "River's own services did not wind down in time (no job was being worked): "+err.Error())
		h.log.Warn("fxasyncriver: River did not stop in time; no job was being worked", "error", err.Error())
		return nil
	}
	return fmt.Errorf("fxasyncriver: stop River with %d job(s) being worked: %w", h.working.Load(), err)
}

// stopMargin is kept from the stop's deadline for Stop to return and
// report before its fxshutdown step is abandoned.
const stopMargin = 50 * time.Millisecond

// boundedStop returns ctx ending stopMargin before its deadline, or in 5 s
// when it has none.
func boundedStop(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-min(stopMargin, time.Until(dl)/10)))
	}
	return context.WithTimeout(ctx, 5*time.Second)
}

// share returns a context ending at 1/n of ctx's time left.
func share(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Until(deadline(ctx))/time.Duration(n))
}

func deadline(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline() // boundedStop gave it one
	return dl
}

// started returns River's client, or nil outside Start…Stop.
func (h *HandOff) started() *river.Client[*sql.Tx] {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.client
}
