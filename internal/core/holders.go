package core

// This file holds the holders' registry: what runs when the drain begins,
// and how a holder counts its losses.

import "sync"

// holds are what runs when the drain begins, and how holders count losses.
type holds struct {
	mu      sync.Mutex
	onDrain []func()
	lossOf  map[string]*holderLoss
}

// holderLoss is how a label's holders count its losses (see CountLoss).
type holderLoss struct {
	funcs    []func() (items, kept int)
	rejected bool
}

func (hs *holds) drainBegan() {
	hs.mu.Lock()
	fs := append([]func(){}, hs.onDrain...)
	hs.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// loss returns label's holders' losses added up, and whether the label's
// refusals count too; ok is false when label has no holder.
func (hs *holds) loss(label string) (items, kept int, rejected, ok bool) {
	hs.mu.Lock()
	h := hs.lossOf[label]
	var fs []func() (int, int)
	if h != nil {
		fs, rejected = append(fs, h.funcs...), h.rejected
	}
	hs.mu.Unlock()
	for _, f := range fs {
		i, k := f()
		items, kept = items+i, kept+k
	}
	return items, kept, rejected, h != nil
}
