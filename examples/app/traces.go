package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"unicode/utf8"
)

// Span is one span of a trace batch.
type Span struct {
	TraceID    string          `json:"trace_id"`
	SpanID     string          `json:"span_id"`
	Name       string          `json:"name"`
	StartTime  string          `json:"start_time"`
	EndTime    string          `json:"end_time"`
	Attributes json.RawMessage `json:"attributes"`
}

type traceBatch struct {
	Spans []Span `json:"spans"`
}

// validate says what is wrong with span i, or returns "": every field is
// stored as it came, so each must be storable.
func (s Span) validate(i int) string {
	switch {
	case s.TraceID == "":
		return fmt.Sprintf("spans[%d].trace_id is required", i)
	case s.SpanID == "":
		return fmt.Sprintf("spans[%d].span_id is required", i)
	case s.Name == "":
		return fmt.Sprintf("spans[%d].name is required", i)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"trace_id", s.TraceID, maxIDBytes}, {"span_id", s.SpanID, maxIDBytes}, {"name", s.Name, maxNameBytes},
		{"start_time", s.StartTime, maxIDBytes}, {"end_time", s.EndTime, maxIDBytes},
	} {
		if why := unstorable(f.value, f.max); why != "" {
			return fmt.Sprintf("spans[%d].%s %s", i, f.name, why)
		}
	}
	if !utf8.Valid(s.Attributes) {
		return fmt.Sprintf("spans[%d].attributes is not valid UTF-8", i)
	}
	return ""
}

// traces stores a batch of spans in one tracing-ingest task.
func (h *Handlers) traces(w http.ResponseWriter, r *http.Request) {
	var b traceBatch
	if !decode(w, r, &b) {
		return
	}
	if len(b.Spans) == 0 {
		writeError(w, http.StatusBadRequest, "spans must hold at least one span")
		return
	}
	for i, s := range b.Spans {
		if msg := s.validate(i); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	err := h.sched.TryGo(r.Context(), "tracing-ingest", func(ctx context.Context) error { return h.db.InsertSpans(ctx, b.Spans) })
	if err != nil {
		overloaded(w, "trace ingestion: "+err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(b.Spans)})
}

type streamEvent struct {
	Type string          `json:"type"`
	raw  json.RawMessage // the whole line
}

// eventType keeps event types sane.
var eventType = regexp.MustCompile(`^[a-z0-9_.-]{1,40}$`)

// streamAnswer is the body of a trace stream's answer: accepted counts the
// events that will be stored.
type streamAnswer struct {
	Accepted int `json:"accepted"`
	apiError
}

// traceStream reads NDJSON events and hands them to the stream-events
// batcher. The whole body is checked first: a bad line stores nothing. When
// the batcher is full the answer is 503 with Retry-After, and "accepted"
// says how many of the events, in order, will still be stored.
func (h *Handlers) traceStream(w http.ResponseWriter, r *http.Request) {
	events, msg, status := readEvents(w, r, h.cfg.MaxEvents)
	if msg != "" {
		writeError(w, status, msg)
		return
	}
	for i, ev := range events {
		if err := h.w.Events.Add(r.Context(), ev); err != nil {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable,
				streamAnswer{Accepted: i, apiError: newAPIError(http.StatusServiceUnavailable, "trace stream: "+err.Error())})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(events)})
}

func readEvents(w http.ResponseWriter, r *http.Request, maxEvents int) ([]streamEvent, string, int) {
	sc := bufio.NewScanner(http.MaxBytesReader(w, r.Body, maxBody))
	sc.Buffer(make([]byte, 64<<10), maxBody)
	var events []streamEvent
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		switch {
		case len(raw) > maxEventBytes:
			return nil, fmt.Sprintf("line %d: an event is at most %d bytes", line, maxEventBytes), http.StatusRequestEntityTooLarge
		case !utf8.Valid(raw): // stored as it came: Postgres refuses invalid UTF-8
			return nil, fmt.Sprintf("line %d: not valid UTF-8", line), http.StatusBadRequest
		}
		var ev streamEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Sprintf("line %d: malformed JSON: %v", line, err), http.StatusBadRequest
		}
		if !eventType.MatchString(ev.Type) {
			return nil, fmt.Sprintf("line %d: type must match %s", line, eventType), http.StatusBadRequest
		}
		if len(events) == maxEvents {
			return nil, fmt.Sprintf("a stream holds at most %d events", maxEvents), http.StatusRequestEntityTooLarge
		}
		ev.raw = append(json.RawMessage(nil), raw...)
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, "reading the stream: " + err.Error(), http.StatusRequestEntityTooLarge
	}
	if len(events) == 0 {
		return nil, "the stream holds no event", http.StatusBadRequest
	}
	return events, "", 0
}
