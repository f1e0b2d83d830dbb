package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fxtools/background/fxshutdown"
	_ "github.com/jackc/pgx/v5/stdlib" // Postgres, when -db is a postgres:// URL
	_ "modernc.org/sqlite"             // pure-Go SQLite driver: no cgo, no server
)

// DB is the service's database: a SQLite file (the default), or Postgres
// when -db is a postgres:// URL, so that replicas share it. Writes hold the
// connection for Config.LogDelay first, to make a slow database visible.
type DB struct {
	db       *sql.DB
	postgres bool
	delay    time.Duration
	stmts    sync.Map // insertSQL → *sql.Stmt, for the sizes that recur
}

// schema is the service's tables; id is the dialect's auto-increment key.
const schema = `
CREATE TABLE IF NOT EXISTS model_usage (
	id %[1]s,
	request_id TEXT NOT NULL,
	model TEXT NOT NULL,
	prompt_tokens INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	latency_ms REAL NOT NULL,
	created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS model_usage_request_id ON model_usage (request_id);
CREATE TABLE IF NOT EXISTS spans (
	id %[1]s,
	trace_id TEXT NOT NULL,
	span_id TEXT NOT NULL,
	name TEXT NOT NULL,
	start_time TEXT,
	end_time TEXT,
	attributes TEXT
);
CREATE TABLE IF NOT EXISTS stream_events (
	id %[1]s,
	type TEXT NOT NULL,
	payload TEXT NOT NULL,
	created_at TEXT NOT NULL
);`

// isPostgres reports whether -db names a Postgres database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenDB opens (and on first start creates) the database and registers its
// close as the "database" shutdown step.
func OpenDB(cfg Config, sd *fxshutdown.Shutdown) (*DB, error) {
	d := &DB{delay: cfg.LogDelay, postgres: isPostgres(cfg.DBPath)}
	var err error
	if d.postgres {
		d.db, err = sql.Open("pgx", cfg.DBPath)
	} else {
		d.db, err = sql.Open("sqlite", "file:"+cfg.DBPath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	}
	if err != nil {
		return nil, err
	}
	if d.postgres {
		d.db.SetMaxOpenConns(32)
		d.db.SetMaxIdleConns(32) // database/sql keeps 2: reconnecting per transaction costs more than the write
	} else {
		d.db.SetMaxOpenConns(1) // SQLite has one writer; queue here, not in SQLITE_BUSY
	}
	if err := d.createSchema(context.Background()); err != nil {
		_ = d.db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", redact(cfg.DBPath), err)
	}
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { d.closeStmts(); return d.db.Close() }, Timeout: time.Second})
	return d, nil
}

// schemaLock is the Postgres advisory lock under which replicas that start
// at once create the schema one at a time (concurrent CREATE TABLE IF NOT
// EXISTS can fail on Postgres's catalog).
const schemaLock = 0x61707073636d61 // "appscma"

func (d *DB) createSchema(ctx context.Context) error {
	if !d.postgres {
		_, err := d.db.ExecContext(ctx, fmt.Sprintf(schema, "INTEGER PRIMARY KEY"))
		return err
	}
	return withAdvisoryLock(ctx, d.db, schemaLock, func() error {
		_, err := d.db.ExecContext(ctx, fmt.Sprintf(schema, "BIGSERIAL PRIMARY KEY"))
		return err
	})
}

// withAdvisoryLock takes the Postgres advisory lock key on one connection
// of db, runs f, and releases the lock, even when ctx ends. The lock holds
// that connection while f runs: db must allow f another.
func withAdvisoryLock(ctx context.Context, db *sql.DB, key int64, f func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()
	return f()
}

// redact hides a URL's password, for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

// Usage is one row of model_usage.
type Usage struct {
	RequestID                      string
	Model                          string
	PromptTokens, CompletionTokens int
	Latency                        time.Duration
}

// InsertUsage writes one usage row (with -sync-log, in the handler).
func (d *DB) InsertUsage(ctx context.Context, u Usage) error {
	return d.InsertUsageBatch(ctx, []Usage{u})
}

// InsertUsageBatch writes usage rows in one transaction; they share its
// created_at.
func (d *DB) InsertUsageBatch(ctx context.Context, us []Usage) error {
	return d.insert(ctx, "model_usage", usageCols, len(us), usageRows(us))
}

// insertUsageTx writes usage rows in the caller's transaction (-durable).
func (d *DB) insertUsageTx(ctx context.Context, tx *sql.Tx, us []Usage) error {
	return d.insertRows(ctx, tx, nil, "model_usage", usageCols, len(us), usageRows(us))
}

var usageCols = []string{"request_id", "model", "prompt_tokens", "completion_tokens", "latency_ms", "created_at"}

func usageRows(us []Usage) func(i int, args []any) []any {
	at := now()
	return func(i int, args []any) []any {
		u := us[i]
		return append(args, u.RequestID, u.Model, u.PromptTokens, u.CompletionTokens, float64(u.Latency.Microseconds())/1000, at)
	}
}

// InsertSpans writes a batch of spans in one transaction.
func (d *DB) InsertSpans(ctx context.Context, spans []Span) error {
	return d.insert(ctx, "spans", []string{"trace_id", "span_id", "name", "start_time", "end_time", "attributes"},
		len(spans), func(i int, args []any) []any {
			s := spans[i]
			return append(args, s.TraceID, s.SpanID, s.Name, s.StartTime, s.EndTime, string(s.Attributes))
		})
}

// InsertEvents writes trace stream events in one transaction; they share
// its created_at.
func (d *DB) InsertEvents(ctx context.Context, evs []streamEvent) error {
	at := now()
	return d.insert(ctx, "stream_events", []string{"type", "payload", "created_at"},
		len(evs), func(i int, args []any) []any { return append(args, evs[i].Type, string(evs[i].raw), at) })
}

// rowsPerStatement keeps a multi-row INSERT under SQLite's limit of 32,766
// bound values.
const rowsPerStatement = 500

// insert writes n rows into table in one transaction, many rows per
// statement: a statement's overhead dominates a small row's cost. The
// configured delay is spent inside the transaction, holding the one
// connection, as a slow database would: writes queue behind it. table and
// cols are the service's own names, never input.
func (d *DB) insert(ctx context.Context, table string, cols []string, n int, row func(i int, args []any) []any) error {
	first := min(n, rowsPerStatement)
	kept := d.stmt(ctx, d.insertSQL(table, cols, first), first%50 == 0) // before the transaction: one connection
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := d.wait(ctx); err != nil {
		return err
	}
	if err := d.insertRows(ctx, tx, kept, table, cols, n, row); err != nil {
		return err
	}
	return tx.Commit()
}

// insertRows runs insert's statements in tx; kept, when not nil, is the
// prepared statement for the first statement's size.
func (d *DB) insertRows(ctx context.Context, tx *sql.Tx, kept *sql.Stmt, table string, cols []string, n int, row func(i int, args []any) []any) error {
	first := min(n, rowsPerStatement)
	for at := 0; at < n; at += rowsPerStatement {
		k := min(rowsPerStatement, n-at)
		args := make([]any, 0, k*len(cols))
		for i := at; i < at+k; i++ {
			args = row(i, args)
		}
		var err error
		if k == first && kept != nil {
			_, err = tx.StmtContext(ctx, kept).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, d.insertSQL(table, cols, k), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// stmt returns the kept prepared statement for query, preparing and keeping
// it when keep is true (a size that recurs: full batches). Call it outside
// a transaction: preparing needs the one connection.
func (d *DB) stmt(ctx context.Context, query string, keep bool) *sql.Stmt {
	if s, ok := d.stmts.Load(query); ok || !keep {
		st, _ := s.(*sql.Stmt)
		return st
	}
	s, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // ExecContext prepares it in the transaction instead
	}
	if old, loaded := d.stmts.LoadOrStore(query, s); loaded {
		_ = s.Close()
		return old.(*sql.Stmt)
	}
	return s
}

func (d *DB) closeStmts() {
	d.stmts.Range(func(_, v any) bool { _ = v.(*sql.Stmt).Close(); return true })
}

// insertSQL is "INSERT INTO table (cols) VALUES (?, …), …" for k rows, with
// $1, $2, … on Postgres. A usage row is written once however often its
// write is tried: a retry after a COMMIT whose answer was lost finds its
// request_id there and writes nothing (both dialects speak ON CONFLICT).
func (d *DB) insertSQL(table string, cols []string, k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	n := 0
	for i := 0; i < k; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			if n++; d.postgres {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	if table == "model_usage" {
		b.WriteString(" ON CONFLICT (request_id) DO NOTHING")
	}
	return b.String()
}

// Count returns the number of rows in table, one of the service's tables.
func (d *DB) Count(ctx context.Context, table string) (int, error) {
	switch table {
	case "model_usage", "spans", "stream_events":
	default:
		return 0, fmt.Errorf("unknown table %q", table)
	}
	var n int
	err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// wait sleeps the configured write delay, or until ctx is cancelled.
func (d *DB) wait(ctx context.Context) error {
	if d.delay <= 0 {
		return nil
	}
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
