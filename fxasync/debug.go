package fxasync

// This file holds the debug page: a scheduler's figures for a person (an
// HTML page that refreshes itself) or a program (JSON), at one address.

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"
)

// debugLabels caps the labels a debug answer lists, the most pending first:
// its size and cost follow the cap, not the labels (MaxLabels can be large).
const debugLabels = 200

// debugOldest is how many of a label's oldest running tasks it shows.
const debugOldest = 3

// DebugHandler serves s's figures: an HTML page when the client asks for
// text/html (a browser), refreshing itself every two seconds, and JSON
// otherwise or with ?format=json. Both hold the same figures, named in snake_case with their
// units (`_seconds`; counts are plain): pending and running tasks, the
// drain's state, per label (the 200 with the most pending; the others are
// counted) what was submitted, succeeded, failed, panicked, was refused,
// waits and runs, with the ages and call sites of the oldest running tasks,
// each batcher's figures, and the last drain's losses. A durable hand-off
// counts its own (fxasyncriver's HandOff.Stats); they are not on it.
// Labels are the users' bytes: they are cleaned at submission and escaped
// on the page. It is safe to serve during a stop.
func DebugHandler(s *Scheduler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := debugSnapshot(s)
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Query().Get("format") != "json" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = debugPage.Execute(w, d)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d)
	})
}

// debugView is one answer of the debug handler.
type debugView struct {
	Pending        int            `json:"pending"`
	Running        int            `json:"running"`
	Draining       bool           `json:"draining"`
	Labels         []debugLabel   `json:"labels"`
	LabelsNotShown int            `json:"labels_not_shown"`
	Batchers       []debugBatcher `json:"batchers"`
	LastDrain      *debugDrain    `json:"last_drain"`
	At             string         `json:"at"`
}

type debugLabel struct {
	Label     string      `json:"label"`
	Submitted int64       `json:"submitted"`
	Succeeded int64       `json:"succeeded"`
	Failed    int64       `json:"failed"`
	Panicked  int64       `json:"panicked"`
	HandedOff int64       `json:"handed_off"`
	Coalesced int64       `json:"coalesced"`
	Retries   int64       `json:"retries"`
	GaveUp    int64       `json:"gave_up"`
	Rejected  int64       `json:"rejected"`
	Pending   int64       `json:"pending"`
	Waiting   int64       `json:"waiting"`
	Running   int         `json:"running"`
	Oldest    []debugTask `json:"oldest_running"`
}

type debugTask struct {
	AgeSeconds float64 `json:"age_seconds"`
	Caller     string  `json:"caller,omitempty"`
}

type debugBatcher struct {
	Label    string  `json:"label"`
	Added    int64   `json:"added"`
	Written  int64   `json:"written"`
	Failed   int64   `json:"failed"`
	Lost     int64   `json:"lost"`
	Kept     int64   `json:"kept"`
	Retries  int64   `json:"retries"`
	Rejected int64   `json:"rejected"`
	Pending  int64   `json:"pending"`
	Bytes    int64   `json:"pending_bytes"`
	Limit    int64   `json:"limit"`
	Rate     float64 `json:"rate_per_second"`
}

type debugDrain struct {
	DurationSeconds float64  `json:"duration_seconds"`
	Lost            int      `json:"lost"`
	LostByLabel     []string `json:"lost_by_label"`
}

func debugSnapshot(s *Scheduler) debugView {
	st, running := s.Stats(), s.Running()
	d := debugView{Pending: s.Pending(), Running: len(running), Draining: isClosed(s.Draining()),
		At: time.Now().UTC().Format(time.RFC3339)}
	byLabel := map[string]*debugLabel{}
	for _, l := range st.Labels {
		byLabel[l.Label] = &debugLabel{Label: l.Label, Submitted: l.Submitted, Succeeded: l.Succeeded, Failed: l.Failed,
			Panicked: l.Panicked, HandedOff: l.HandedOff, Coalesced: l.Coalesced, Retries: l.Retries, GaveUp: l.GaveUp, Rejected: l.Rejected,
			Pending: l.Pending, Waiting: l.Waiting}
	}
	for _, t := range running { // oldest first
		if l := byLabel[t.Label]; l != nil {
			l.Running++
			if len(l.Oldest) < debugOldest {
				l.Oldest = append(l.Oldest, debugTask{AgeSeconds: t.Age.Seconds(), Caller: t.Caller})
			}
		}
	}
	for _, l := range byLabel {
		d.Labels = append(d.Labels, *l)
	}
	sort.Slice(d.Labels, func(i, j int) bool {
		a, b := d.Labels[i], d.Labels[j]
		return a.Pending > b.Pending || (a.Pending == b.Pending && a.Label < b.Label)
	})
	if len(d.Labels) > debugLabels {
		d.Labels, d.LabelsNotShown = d.Labels[:debugLabels], len(d.Labels)-debugLabels
	}
	for _, b := range s.Batchers() {
		d.Batchers = append(d.Batchers, debugBatcher{Label: b.Label, Added: b.Added, Written: b.Flushed, Failed: b.Failed,
			Lost: b.Lost, Kept: b.Kept, Retries: b.Retries, Rejected: b.Rejected, Pending: b.Pending, Bytes: b.Bytes, Limit: b.Limit, Rate: b.Rate})
	}
	if ld := s.LastDrain(); ld.Done {
		d.LastDrain = &debugDrain{DurationSeconds: ld.Duration.Seconds(), Lost: ld.Lost.Total(), LostByLabel: ld.Lost.lostStrings()}
	}
	return d
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

//go:embed debug.html
var debugFiles embed.FS

var debugPage = template.Must(template.New("debug.html").Funcs(template.FuncMap{
	"seconds": func(s float64) string {
		return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
	},
}).ParseFS(debugFiles, "debug.html"))
