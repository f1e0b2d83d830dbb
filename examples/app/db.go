package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fxtools/background/fxshutdown"
	_ "modernc.org/sqlite" // pure-Go SQLite driver: no cgo, no server
)

// DB is the service's SQLite database. Writes hold the connection for
// Config.LogDelay first, to make a slow database visible.
type DB struct {
	db    *sql.DB
	delay time.Duration
	stmts sync.Map // insertSQL → *sql.Stmt, for the sizes that recur
}

const schema = `
CREATE TABLE IF NOT EXISTS model_usage (
	id INTEGER PRIMARY KEY,
	request_id TEXT NOT NULL,
	model TEXT NOT NULL,
	prompt_tokens INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	latency_ms REAL NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
	id INTEGER PRIMARY KEY,
	trace_id TEXT NOT NULL,
	span_id TEXT NOT NULL,
	name TEXT NOT NULL,
	start_time TEXT,
	end_time TEXT,
	attributes TEXT
);
CREATE TABLE IF NOT EXISTS stream_events (
	id INTEGER PRIMARY KEY,
	type TEXT NOT NULL,
	payload TEXT NOT NULL,
	created_at TEXT NOT NULL
);`

// OpenDB opens (and on first start creates) the database and registers its
// close as the "database" shutdown step.
func OpenDB(cfg Config, sd *fxshutdown.Shutdown) (*DB, error) {
	db, err := sql.Open("sqlite", "file:"+cfg.DBPath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; queue here, not in SQLITE_BUSY
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", cfg.DBPath, err)
	}
	d := &DB{db: db, delay: cfg.LogDelay}
	sd.Add("database", func(context.Context) error { d.closeStmts(); return db.Close() })
	return d, nil
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
	return insertRows(ctx, tx, nil, "model_usage", usageCols, len(us), usageRows(us))
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
	kept := d.stmt(ctx, insertSQL(table, cols, first), first%50 == 0) // before the transaction: one connection
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := d.wait(ctx); err != nil {
		return err
	}
	if err := insertRows(ctx, tx, kept, table, cols, n, row); err != nil {
		return err
	}
	return tx.Commit()
}

// insertRows runs insert's statements in tx; kept, when not nil, is the
// prepared statement for the first statement's size.
func insertRows(ctx context.Context, tx *sql.Tx, kept *sql.Stmt, table string, cols []string, n int, row func(i int, args []any) []any) error {
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
			_, err = tx.ExecContext(ctx, insertSQL(table, cols, k), args...)
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

// insertSQL is "INSERT INTO table (cols) VALUES (?, …), …" for k rows.
func insertSQL(table string, cols []string, k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for i := 0; i < k; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
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
