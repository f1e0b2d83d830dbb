package fxshutdown_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain()) // this binary plays the program under test
	}
	goleak.VerifyTestMain(m)
}
