package main

// This file holds the ledger: every request the clients sent against the
// usage rows in the database, per model, and what the mode promised.

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"text/tabwriter"
	"time"
)

type ledger struct {
	mode     string
	restarts int
	killed   process // the run SIGKILL ended
	exits    []int   // exit codes of the SIGTERM stops
	drains   []time.Duration
	settled  bool // durable: River finished every job in time
	// outage, for the outage drill: how long the database refused
	// connections, and how long after it the backlog took to be written.
	outage, recovered time.Duration
	peakRSS           int64 // the largest of the replicas' peak resident sets, in bytes

	rows   []ledgerRow
	broken []string // what failed but at the killed process, a few
}

// ledgerRow is one model's figures. "Of the killed" counts what went to the
// process SIGKILL ended: the only place the in-memory mode may lose.
type ledgerRow struct {
	model                           string
	answered, written, lost, dup    int
	lostOfKilled                    int
	non2xx, transport               int
	non2xxOfKilled, transportKilled int
}

// count matches every answered request id with its usage rows.
func (l *ledger) count(db *sql.DB, outs []outcome) error {
	rows := map[string]int{}
	rs, err := db.Query("SELECT request_id, COUNT(*) FROM model_usage GROUP BY request_id")
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		var n int
		if err := rs.Scan(&id, &n); err != nil {
			return err
		}
		rows[id] = n
	}
	if err := rs.Err(); err != nil {
		return err
	}
	by := map[string]*ledgerRow{}
	for _, m := range models {
		by[m] = &ledgerRow{model: m}
		l.rows = append(l.rows, ledgerRow{})
	}
	for _, o := range outs {
		r, killed := by[o.model], o.to == l.killed
		switch {
		case o.status == http.StatusOK:
			r.answered++
			switch n := rows[o.id]; {
			case n == 0:
				r.lost++
				if killed {
					r.lostOfKilled++
				}
			case n > 1:
				r.dup++
				r.written++
			default:
				r.written++
			}
		case o.status == 0:
			r.transport++
			if killed {
				r.transportKilled++
			}
		default:
			r.non2xx++
			if killed {
				r.non2xxOfKilled++
			}
		}
		if o.status != http.StatusOK && !killed && len(l.broken) < 5 {
			l.broken = append(l.broken, fmt.Sprintf("replica %d (start %d): status %d %s", o.to.replica, o.to.gen, o.status, o.err))
		}
	}
	l.rows = l.rows[:0]
	for _, m := range models {
		l.rows = append(l.rows, *by[m])
	}
	return nil
}

// kept reports whether the mode kept its promise: no duplicate row, every
// stop exited 0, no request failed but at the killed process; in memory,
// rows lost only with the killed process; durable, none lost at all.
func (l *ledger) kept() bool {
	for _, c := range l.exits {
		if c != 0 {
			return false
		}
	}
	if l.outage > 0 {
		return l.keptThroughOutage()
	}
	for _, r := range l.rows {
		if r.dup > 0 || r.non2xx > r.non2xxOfKilled || r.transport > r.transportKilled {
			return false
		}
		if r.lost > r.lostOfKilled || l.mode == "durable" && r.lost > 0 {
			return false
		}
	}
	return l.mode != "durable" || l.settled
}

// keptThroughOutage is the outage drill's promise: every answered request
// has exactly one row, in both modes; in memory, at most 1 % refused
// for an outage of up to 5 s (a longer one fills the bounds and is refused,
// as it should be, with Retry-After); the backlog written within
// 30 s of the outage's end; every replica's peak RSS within 300 MB.
func (l *ledger) keptThroughOutage() bool {
	var sent, refused int
	for _, r := range l.rows {
		if r.dup > 0 || r.lost > 0 || r.transport > 0 {
			return false
		}
		sent += r.answered + r.non2xx
		refused += r.non2xx
	}
	if l.mode == "in-memory" && l.outage <= 5*time.Second && refused*100 > sent {
		return false
	}
	return l.recovered <= 30*time.Second && l.peakRSS <= 300<<20 && (l.mode != "durable" || l.settled)
}

func (l *ledger) print(w io.Writer) {
	if l.outage > 0 {
		fmt.Fprintf(w, "\n== %s: the database refused connections for %v; backlog written %v after\n", l.mode, l.outage,
			l.recovered.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "\n== %s: %d rolling restarts, 1 SIGKILL (replica %d)\n", l.mode, l.restarts, l.killed.replica)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\t2xx\trows\tlost\t(of the killed)\tduplicated\tnon-2xx\t(of the killed)\ttransport errors\t(of the killed)\t")
	var tot ledgerRow
	for _, r := range l.rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.model, r.answered, r.written, r.lost, r.lostOfKilled,
			r.dup, r.non2xx, r.non2xxOfKilled, r.transport, r.transportKilled)
		tot.answered, tot.written, tot.lost, tot.lostOfKilled = tot.answered+r.answered, tot.written+r.written, tot.lost+r.lost, tot.lostOfKilled+r.lostOfKilled
		tot.dup, tot.non2xx, tot.non2xxOfKilled = tot.dup+r.dup, tot.non2xx+r.non2xx, tot.non2xxOfKilled+r.non2xxOfKilled
		tot.transport, tot.transportKilled = tot.transport+r.transport, tot.transportKilled+r.transportKilled
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", tot.answered, tot.written, tot.lost, tot.lostOfKilled,
		tot.dup, tot.non2xx, tot.non2xxOfKilled, tot.transport, tot.transportKilled)
	tw.Flush()
	p50, p99 := percentiles(l.drains)
	fmt.Fprintf(w, "drains: %d, p50 %v, p99 %v; SIGTERM exit codes %v; peak RSS %d MB", len(l.drains), p50, p99, l.exits,
		l.peakRSS>>20)
	if l.mode == "durable" {
		fmt.Fprintf(w, "; River finished every job: %v", l.settled)
	}
	what := "failed away from the SIGKILL"
	if l.outage > 0 {
		what = "not answered 2xx (the first few)"
	}
	for _, b := range l.broken {
		fmt.Fprintf(w, "\n%s: %s", what, b)
	}
	verdict := "kept its promise"
	if !l.kept() {
		verdict = "BROKE ITS PROMISE"
	}
	fmt.Fprintf(w, "\n%s mode %s\n", l.mode, verdict)
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2].Round(time.Microsecond), s[(len(s)-1)*99/100].Round(time.Microsecond)
}
