package fxasync

import "github.com/fxtools/background/internal/clock"

// SetClock gives tests the drain's timers.
func SetClock(s *Scheduler, c clock.Clock) { s.engine().SetClock(c) }
