package core

// This file holds the holders' registry: what runs when the drain begins,
// and how a holder counts its losses.

import "sync"

// holds are what runs when the drain begins, and how holders count losses.
type holds struct {
	mu      sync.Mutex
	onDrain []func()
	lossOf  map[string][]func() int
}

func (hs *holds) drainBegan() {
	hs.mu.Lock()
	fs := append([]func(){}, hs.onDrain...)
	hs.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// lossFunc returns the sum of label's holders' losses, or nil when label
// has no holder.
func (hs *holds) lossFunc(label string) func() int {
	hs.mu.Lock()
	fs := hs.lossOf[label]
	hs.mu.Unlock()
	if fs == nil {
		return nil
	}
	return func() int {
		n := 0
		for _, f := range fs {
			n += f()
		}
		return n
	}
}
