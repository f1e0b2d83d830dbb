package fxasyncriver

// This file holds the test binary's entry: leak checks, and the child
// process the crash tests kill.

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	goleak.VerifyTestMain(m)
}
