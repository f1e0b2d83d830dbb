package fxasync

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Oldest returns, for each label with a running task, the age of its oldest
// running task.
func (s *Scheduler) Oldest() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, t := range s.Running() {
		if t.Age > out[t.Label] {
			out[t.Label] = t.Age
		}
	}
	return out
}

// StuckError names the labels whose oldest running task is older than the
// threshold of CheckStuck.
type StuckError struct {
	Threshold time.Duration
	Stuck     []TaskInfo // the oldest task of each stuck label, oldest first
}

func (e *StuckError) Error() string {
	parts := make([]string, len(e.Stuck))
	for i, t := range e.Stuck {
		parts[i] = fmt.Sprintf("%q running for %v", t.Label, t.Age.Round(time.Millisecond))
		if t.Caller != "" {
			parts[i] += " (submitted at " + t.Caller + ")"
		}
	}
	return fmt.Sprintf("fxasync: task(s) older than %v: %s", e.Threshold, strings.Join(parts, ", "))
}

// CheckStuck returns nil, or a *StuckError naming each label whose oldest
// running task is older than threshold, with its age and, with
// Config.CallSites, where it was submitted. It suits a health check.
func (s *Scheduler) CheckStuck(threshold time.Duration) error {
	seen := map[string]bool{}
	var stuck []TaskInfo
	for _, t := range s.Running() { // oldest first: a label's first is its oldest
		if t.Age > threshold && !seen[t.Label] {
			seen[t.Label] = true
			stuck = append(stuck, t)
		}
	}
	if len(stuck) == 0 {
		return nil
	}
	return &StuckError{Threshold: threshold, Stuck: stuck}
}

// HealthHandler answers 200 {"status":"ok","pending":N} while no label has a
// task older than threshold, and 503 with the CheckStuck error otherwise.
func HealthHandler(s *Scheduler, threshold time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, status := map[string]any{"status": "ok", "pending": s.Pending()}, http.StatusOK
		if err := s.CheckStuck(threshold); err != nil {
			body["status"], body["error"], status = "stuck", err.Error(), http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}
