// Command fleet is the rolling-restart drill: it runs replicas of the
// example service on loopback behind a load balancer, sends load at a fixed
// rate, restarts every replica in turn with SIGTERM, kills one with
// SIGKILL, and prints a ledger of every answered request against the usage
// rows in the shared Postgres database. It runs twice: usage logged in
// memory (a SIGKILL loses what was not written: counted, not hidden), then
// durable (nothing answered may be lost). It exits 1 when anything is lost
// that the mode promises to keep.
//
//	go run -C examples/fleet .          # the full form: 5 minutes a mode, 5 rounds of restarts
//	go run -C examples/fleet . -short   # the CI form: 30 s a mode, 1 round
//	go run -C examples/fleet . -outage 5s -replicas 2 -duration 24s  # the outage drill
//
// Postgres comes from FXASYNC_POSTGRES_URL; each mode gets a new database.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// drill is one run's settings.
type drill struct {
	replicas int
	rounds   int
	duration time.Duration
	rate     int
	outage   time.Duration // the outage drill: no restarts, the database away this long
}

func main() {
	short := flag.Bool("short", false, "the CI form: 30 s of load a mode and one round of restarts")
	d := drill{}
	flag.IntVar(&d.replicas, "replicas", 3, "replicas of the service")
	flag.IntVar(&d.rounds, "rounds", 5, "rounds of rolling restarts")
	flag.DurationVar(&d.duration, "duration", 5*time.Minute, "load per mode")
	flag.IntVar(&d.rate, "rate", 200, "requests per second")
	flag.DurationVar(&d.outage, "outage", 0, "the outage drill: no restarts; from second 6 the database refuses connections this long")
	flag.Parse()
	if *short {
		d.rounds, d.duration = 1, 30*time.Second
	}
	base := os.Getenv("FXASYNC_POSTGRES_URL")
	if base == "" {
		fmt.Fprintln(os.Stderr, "fleet: FXASYNC_POSTGRES_URL is unset: the replicas share a Postgres database")
		os.Exit(2)
	}
	bin, cleanup, err := buildService()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(2)
	}
	defer cleanup()
	failed := false
	for _, durable := range []bool{false, true} {
		l, err := d.run(bin, base, durable)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(2)
		}
		l.print(os.Stdout)
		failed = failed || !l.kept()
	}
	if failed {
		os.Exit(1)
	}
}
