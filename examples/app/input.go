package main

// This file holds what the service accepts of a client's bytes: strings
// that every database it writes to can store, and a bound on the request
// bodies being read at once.

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Bounds on the client strings the service stores.
const (
	maxModelBytes = 256
	maxIDBytes    = 128
	maxNameBytes  = 1 << 10
	maxEventBytes = 64 << 10 // one trace stream line
)

// unstorable says why s cannot be stored as it came — longer than max
// bytes, not valid UTF-8, or holding a control character (Postgres' text
// refuses NUL and invalid UTF-8, and one such row used to fail its whole
// batch) — or returns "".
func unstorable(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "holds a control character"
		}
	}
	return ""
}

// smallBody is the size up to which a request body is read without
// taking from the budget: 1,024 connections of it are 64 MiB.
const smallBody = 64 << 10

// bodyBudget bounds the bytes of the large request bodies being read at
// once, so that a flood of megabyte bodies is refused (503) instead of
// decoded into memory all together.
type bodyBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves what r's body may hold, and returns the function that
// gives it back, or nil when the budget has no room now.
func (b *bodyBudget) take(r *http.Request) func() {
	n := r.ContentLength
	if n < 0 || n > maxBody {
		n = maxBody // unknown length: at most what the reader lets through
	}
	if n <= smallBody {
		return func() {}
	}
	for {
		used := b.used.Load()
		if used+n > b.max {
			return nil
		}
		if b.used.CompareAndSwap(used, used+n) {
			return func() { b.used.Add(-n) }
		}
	}
}
