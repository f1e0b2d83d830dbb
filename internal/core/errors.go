package core

// This file holds the errors a submission is refused with.

import "errors"

// Errors a submission is refused with.
var (
	ErrClosed  = errors.New("scheduler is draining or drained")
	ErrNilFunc = errors.New("task function is nil")
	ErrFull    = errors.New("scheduler is at its limit of pending tasks")
)

// ErrHandedOff, returned by a task, says that the drain's bound cut it
// short and that its work waits for the Keeper: it is counted as handed
// off, and not logged.
var ErrHandedOff = errors.New("cut off by the drain and handed to the keeper")
