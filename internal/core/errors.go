package core

// This file holds the errors a submission is refused with.

import "errors"

// Errors a submission is refused with.
var (
	ErrClosed  = errors.New("scheduler is draining or drained")
	ErrNilFunc = errors.New("task function is nil")
	ErrFull    = errors.New("scheduler is at its limit of pending tasks")
)
