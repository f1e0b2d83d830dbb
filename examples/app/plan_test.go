package main

import (
	"path/filepath"
	"testing"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// The service's stop fits Kubernetes' default 30 s grace with a 5 s
// readiness delay, and fx's StopTimeout covers its steps; a 10 s delay does
// not fit, and the plan says by how much.
func TestShutdownPlanFitsTheDefaultGrace(t *testing.T) {
	t.Setenv(fxshutdown.TerminationGraceEnv, "30")
	for _, c := range []struct {
		delay string
		fits  bool
	}{{"5s", true}, {"10s", false}} {
		cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "p.db"), "-readiness-delay", c.delay})
		require.NoError(t, err)
		var sd *fxshutdown.Shutdown
		app := fxtest.New(t, append(options(cfg), fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.NewNop() }),
			fx.Populate(&sd))...)
		p := sd.Plan(stopTimeout)
		t.Log(p)
		if c.fits {
			assert.NoError(t, p.Check(), c.delay)
		} else {
			assert.ErrorContains(t, p.Check(), "the stop needs 32.3s but the termination grace is 30s", c.delay)
		}
		app.RequireStart().RequireStop()
	}
}
