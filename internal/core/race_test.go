//go:build race

package core

// raceEnabled: the race detector's instrumentation enlarges stack frames.
const raceEnabled = true
