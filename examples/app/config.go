package main

import (
	"flag"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
)

// Config is the service's configuration, from flags.
type Config struct {
	Addr           string
	DBPath         string
	DrainTimeout   time.Duration
	LogDelay       time.Duration // added to every background write
	SyncLog        bool          // log usage in the handler instead (for comparison)
	NoUsage        bool          // log no usage at all (for comparison)
	Durable        bool          // usage rows as durable tasks, kept by River
	Lease          time.Duration // how long River leaves a durable row to the fast path
	TraceStdout    bool          // OpenTelemetry spans of requests and tasks, to stdout
	ReadinessDelay time.Duration
	StuckAfter     time.Duration // /healthz fails when a task runs longer

	BatchSize       int           // rows per transaction, at most
	BatchDelay      time.Duration // longest a row waits for its batch
	MaxPendingRows  int           // rows accepted and not yet written, per batcher
	MaxPendingBytes int           // their bytes, per batcher
	MaxBodyBytes    int64         // large request bodies being read at once, in bytes
	MemoryLimit     int64         // the Go runtime's soft memory limit, unless GOMEMLIMIT is set
	MaxWait         time.Duration // longest a request waits for room before 503
	MaxEvents       int           // events per trace stream request
	MaxConns        int           // open connections
}

func parseFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (port 0 picks a free one)")
	fs.StringVar(&c.DBPath, "db", "./app.db", "SQLite file, created on first start; or a postgres:// URL, shared by replicas")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 5*time.Second, "bound on draining background tasks at stop")
	fs.DurationVar(&c.LogDelay, "log-delay", 0, "latency added to each background write, e.g. 300ms")
	fs.BoolVar(&c.SyncLog, "sync-log", false, "log usage synchronously in the handler (to compare)")
	fs.BoolVar(&c.NoUsage, "no-usage", false, "log no usage at all (to compare)")
	fs.BoolVar(&c.Durable, "durable", false, "usage rows as durable tasks: kept by River in the database until written, through a crash")
	fs.BoolVar(&c.TraceStdout, "trace-stdout", false, "print an OpenTelemetry span per request and per background task to stdout")
	fs.DurationVar(&c.Lease, "lease", 30*time.Second, "with -durable: how long River leaves a row to this process before another (or the restart) writes it")
	fs.DurationVar(&c.ReadinessDelay, "readiness-delay", 0, "time between not-ready and the stop, e.g. 5s")
	fs.DurationVar(&c.StuckAfter, "stuck-after", time.Minute, "/healthz fails when a background task runs longer")
	fs.IntVar(&c.BatchSize, "batch-size", 200, "rows per transaction, at most")
	fs.DurationVar(&c.BatchDelay, "batch-delay", 20*time.Millisecond, "longest a row waits for its batch to fill")
	fs.IntVar(&c.MaxPendingRows, "max-pending-rows", 20_000, "rows accepted and not yet written, per batcher")
	fs.IntVar(&c.MaxPendingBytes, "max-pending-bytes", 32<<20, "bytes of the rows accepted and not yet written, per batcher")
	fs.Int64Var(&c.MemoryLimit, "memory-limit", 192<<20, "the Go runtime's soft memory limit in bytes (GOMEMLIMIT, when set, wins); 0: none")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 16<<20, "bytes of the large (over 64 KiB) request bodies read at once; more are answered 503")
	fs.DurationVar(&c.MaxWait, "max-wait", 100*time.Millisecond, "longest a request waits for room before it is answered 503")
	fs.IntVar(&c.MaxEvents, "max-events", 20_000, "events per trace stream request")
	fs.IntVar(&c.MaxConns, "max-conns", 1024, "open connections; at the cap the oldest idle one, or one that sent no request yet, is closed for a new one")
	err := fs.Parse(args)
	return c, err
}

func (c Config) asyncConfig() fxasync.Config {
	// Every write is retried: the batchers' by default (BatcherConfig.Retry),
	// the span writes here, River's jobs by River. Usage rows are written
	// once however often tried (their request_id is unique); a span or a
	// stream event whose COMMIT answer was lost may be written twice.
	return fxasync.Config{DrainTimeout: c.DrainTimeout, CallSites: true, MaxWait: c.MaxWait,
		LabelLimits:  map[string]int{"tracing-ingest": tracesPending},
		LabelRetries: map[string]fxasync.Retry{"tracing-ingest": {MaxAttempts: 6, MaxElapsed: 30 * time.Second}}}
}

func (c Config) shutdownConfig() fxshutdown.Config {
	return fxshutdown.Config{StepTimeout: 5 * time.Second, ReadinessDelay: c.ReadinessDelay}
}
