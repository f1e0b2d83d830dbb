package core

// This file holds the label table: labels cleaned once at submission and
// mapped to their counters, with the cap on distinct labels.

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Placeholder labels. A user's label equal to one of them is counted with it:
// there is one entry, and one metric series, per label string.
const (
	// UnlabeledLabel is recorded for a task submitted with an empty label.
	UnlabeledLabel = "(unlabeled)"
	// OverflowLabel collects the figures of every label past the cap on
	// distinct labels (Config.MaxLabels).
	OverflowLabel = "(other)"
)

// MaxLabelBytes bounds a label; a longer one is cut at a rune boundary.
const MaxLabelBytes = 128

// CleanLabel returns the label under which a task is logged and counted:
// valid UTF-8 (invalid bytes become U+FFFD), at most MaxLabelBytes, and
// UnlabeledLabel for "". What reaches a log line or a metric label is safe.
func CleanLabel(s string) string {
	if s == "" {
		return UnlabeledLabel
	}
	if len(s) <= MaxLabelBytes && utf8.ValidString(s) {
		return s // the common case: no allocation
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > MaxLabelBytes {
		cut := MaxLabelBytes
		for s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// labelTable maps clean labels to counters. A lookup is one load of read, an
// immutable map, and a map access. Every label is in all, under mu; a label
// not yet in read is a miss, and after as many misses as all holds labels,
// all is copied into a new read. Copies grow geometrically, so a new label
// costs O(1) amortised, however high the cap. Once the cap is reached, read
// holds every label and new ones go to the overflow counters without a lock.
type labelTable struct {
	read     atomic.Pointer[map[string]*Counters]
	mu       sync.Mutex
	all      map[string]*Counters
	misses   int
	n        int // distinct labels stored, placeholders not counted
	max      int
	full     atomic.Bool
	overflow *Counters
	counters func(label string) *Counters // a new label's
}

func (lt *labelTable) init(max int, counters func(string) *Counters) {
	lt.max = max
	lt.counters = counters
	lt.overflow = counters(OverflowLabel)
	lt.all = map[string]*Counters{OverflowLabel: lt.overflow}
	lt.publish()
}

// get returns the clean form of label and its counters. Only clean labels
// are stored, so a label found as it is is clean: the common case costs one
// lookup and no cleaning.
func (lt *labelTable) get(label string) (string, *Counters) {
	if c, ok := (*lt.read.Load())[label]; ok {
		return label, c
	}
	return lt.miss(CleanLabel(label))
}

func (lt *labelTable) miss(label string) (string, *Counters) {
	if c, ok := (*lt.read.Load())[label]; ok {
		return label, c
	}
	if lt.full.Load() {
		return label, lt.overflow
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	c, ok := lt.all[label]
	if !ok {
		if lt.n >= lt.max {
			lt.publish()
			lt.full.Store(true)
			return label, lt.overflow
		}
		c = lt.counters(label)
		lt.all[label] = c
		lt.n++
	}
	if lt.misses++; lt.misses >= len(lt.all) {
		lt.publish()
	}
	return label, c
}

// publish copies all into a new read map. Call it under mu, or in init.
func (lt *labelTable) publish() {
	m := make(map[string]*Counters, len(lt.all))
	for k, v := range lt.all {
		m[k] = v
	}
	lt.read.Store(&m)
	lt.misses = 0
}

// each calls f for every label with its counters, in no order.
func (lt *labelTable) each(f func(label string, c *Counters)) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for k, v := range lt.all {
		f(k, v)
	}
}

// snapshot returns every used label's figures, the overflow bucket last.
func (lt *labelTable) snapshot() Stats {
	var s Stats
	var overflow LabelStats
	lt.each(func(label string, c *Counters) {
		l := c.snapshot(label)
		switch {
		case c == lt.overflow:
			overflow = l
		case l.Submitted > 0:
			s.Labels = append(s.Labels, l)
		}
	})
	sort.Slice(s.Labels, func(i, j int) bool { return s.Labels[i].Label < s.Labels[j].Label })
	if overflow.Submitted > 0 {
		s.Labels = append(s.Labels, overflow)
	}
	for _, l := range s.Labels {
		s.Total.add(l)
	}
	return s
}
