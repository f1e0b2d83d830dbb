package main

// This file holds one mode's run: the replicas, the balancer and the load,
// the rolling restarts and the SIGKILL, then the ledger.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // Postgres through database/sql
)

func (d drill) run(bin, base string, durable bool) (*ledger, error) {
	mode := "in-memory"
	if durable {
		mode = "durable"
	}
	dsn, name, admin, drop, err := newDatabase(base, mode)
	if err != nil {
		return nil, err
	}
	defer drop()
	// The readiness delay outlasts the balancer's detection (a check every
	// 100 ms, 200 ms timeout), so it stops routing to a replica before that
	// replica stops serving.
	args := []string{"-db", dsn, "-readiness-delay", "1s", "-lease", "3s"}
	if durable {
		args = append(args, "-durable")
	}
	reps := make([]*replica, d.replicas)
	for i := range reps {
		if reps[i], err = newReplica(bin, args); err != nil {
			return nil, err
		}
	}
	if err := startAll(reps); err != nil { // at once: the schema's migration must be safe so
		return nil, err
	}
	b := newBalancer(reps)
	defer b.close()
	l := &load{}
	stop := make(chan struct{})
	loaded := make(chan struct{})
	began := time.Now()
	go func() { l.run(b, d.rate, stop); close(loaded) }()

	led := &ledger{mode: mode, killed: process{replica: -1}, outage: d.outage}
	if d.outage > 0 {
		if led.recovered, err = d.outageDrill(admin, name, dsn, began, l); err != nil {
			return nil, err
		}
	} else if err := d.restarts(reps, led); err != nil {
		return nil, err
	}
	time.Sleep(time.Until(began.Add(d.duration)))
	close(stop)
	<-loaded

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if durable {
		led.settled = settle(db, time.Minute)
	}
	for _, r := range reps {
		led.exits = append(led.exits, r.stop())
		led.drains = append(led.drains, r.drainTimes()...)
		led.peakRSS = max(led.peakRSS, r.peakRSS())
	}
	return led, led.count(db, l.outcomes)
}

// outageDrill makes the database unreachable for d.outage from second 6 of
// the load on, and returns how long after it the rows of every request
// answered by its end took to be written (the backlog; at most a minute).
func (d drill) outageDrill(admin *sql.DB, name, dsn string, began time.Time, l *load) (time.Duration, error) {
	time.Sleep(time.Until(began.Add(6 * time.Second)))
	if err := outageFor(admin, name, d.outage); err != nil {
		return 0, err
	}
	end, want := time.Now(), l.answered()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	for time.Since(end) < time.Minute {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM model_usage").Scan(&n); err == nil && n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(end), nil
}

// restarts restarts every replica in turn, d.rounds times, then kills one.
func (d drill) restarts(reps []*replica, led *ledger) error {
	time.Sleep(2 * time.Second)
	for round := 0; round < d.rounds; round++ {
		for _, r := range reps {
			led.exits = append(led.exits, r.stop())
			if err := r.start(); err != nil {
				return err
			}
			led.restarts++
			time.Sleep(500 * time.Millisecond)
		}
	}
	victim := reps[0]
	led.killed = process{replica: 0, gen: victim.generation()}
	victim.kill()
	time.Sleep(time.Second)
	return victim.start()
}

func startAll(reps []*replica) error {
	errs := make([]error, len(reps))
	var wg sync.WaitGroup
	for i, r := range reps {
		wg.Go(func() { errs[i] = r.start() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// settle waits until River has no unfinished job, and reports whether it
// got there in time.
func settle(db *sql.DB, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&n)
		if err == nil && n == 0 {
			return true
		}
	}
	return false
}

// newDatabase creates a database for one mode and returns its URL, its
// name, a connection to the server's own database, and its drop.
func newDatabase(base, mode string) (dsn, name string, admin *sql.DB, drop func(), err error) {
	admin, err = sql.Open("pgx", base)
	if err != nil {
		return "", "", nil, nil, err
	}
	name = fmt.Sprintf("fleet_%s_%d_%d", strings.ReplaceAll(mode, "-", "_"), time.Now().Unix(), rand.Uint32())
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", "", nil, nil, fmt.Errorf("create the drill's database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", "", nil, nil, err
	}
	u.Path = "/" + name
	return u.String(), name, admin, func() {
		_, _ = admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
		_, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		admin.Close()
	}, nil
}
