package fxasyncriver_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncriver"
	"go.uber.org/zap"
	_ "modernc.org/sqlite"
)

// Visit is a durable task's args: JSON in River's job row, named by Kind.
type Visit struct {
	Page string `json:"page"`
}

func (Visit) Kind() string { return "visit" }

// A durable task is written before Submit returns, in a transaction it
// shares with the submissions made meanwhile (group commit). A kind with
// Before work is committed as a job instead, then written at once by the
// fast path, in the same transaction as its claim.
func ExampleRegister() {
	dir, _ := os.MkdirTemp("", "fxasyncriver-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=journal_mode(WAL)")
	db.SetMaxOpenConns(1)
	defer db.Close()
	_, _ = db.Exec("CREATE TABLE visits (page TEXT NOT NULL)")

	h := fxasyncriver.New(db, fxasyncriver.Config{})
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h}) // h keeps what a stop cuts short
	visits := fxasyncriver.Register(h, sched, func(ctx context.Context, tx *sql.Tx, v Visit) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO visits (page) VALUES (?)", v.Page)
		return err
	})
	if err := h.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	if err := visits.Submit(context.Background(), Visit{Page: "/pricing"}); err != nil {
		fmt.Println(err)
	}
	_ = sched.Drain(context.Background()) // at stop: drain first, then the hand-off
	_ = h.Stop(context.Background())

	var n int
	_ = db.QueryRow("SELECT COUNT(*) FROM visits").Scan(&n)
	st := h.Stats()[0]
	fmt.Printf("rows %d; %s: written in its commit %d, jobs inserted %d, by River %d\n", n, st.Kind, st.Direct, st.Inserted, st.ByQueue)
	// Output:
	// rows 1; visit: written in its commit 1, jobs inserted 0, by River 0
}

// A kind registered with a batch handler writes the tasks committed
// together with one statement; SubmitMany commits several tasks at once,
// all or none.
func ExampleRegisterBatch() {
	dir, _ := os.MkdirTemp("", "fxasyncriver-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=journal_mode(WAL)")
	db.SetMaxOpenConns(1)
	defer db.Close()
	_, _ = db.Exec("CREATE TABLE visits (page TEXT NOT NULL)")

	h := fxasyncriver.New(db, fxasyncriver.Config{})
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Keeper: h})
	visits := fxasyncriver.RegisterBatch(h, sched, func(ctx context.Context, tx *sql.Tx, vs []Visit) error {
		q, args := "INSERT INTO visits (page) VALUES (?)"+strings.Repeat(", (?)", len(vs)-1), make([]any, len(vs))
		for i, v := range vs {
			args[i] = v.Page
		}
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err := h.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	err := visits.SubmitMany(context.Background(), []Visit{{Page: "/"}, {Page: "/pricing"}, {Page: "/docs"}})
	fmt.Println("submitted:", err)
	_ = sched.Drain(context.Background())
	_ = h.Stop(context.Background())

	var n int
	_ = db.QueryRow("SELECT COUNT(*) FROM visits").Scan(&n)
	fmt.Printf("rows %d, written in their commit %d\n", n, h.Stats()[0].Direct)
	// Output:
	// submitted: <nil>
	// rows 3, written in their commit 3
}
