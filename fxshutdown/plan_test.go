package fxshutdown_test

import (
	"context"
	"testing"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
)

const s = time.Second

// Plans that fit and plans that do not, with the numbers in the error.
func TestPlanCheck(t *testing.T) {
	steps := []fxshutdown.PlannedStep{{"http-server", 10 * s}, {"async-tasks", 5*s + 300*time.Millisecond}, {"database", 2 * s}}
	for _, c := range []struct {
		name string
		plan fxshutdown.Plan
		err  string // "" fits
	}{
		{"no grace: nothing to check", fxshutdown.Plan{Steps: steps}, ""},
		{"fits", fxshutdown.Plan{Grace: 30 * s, ReadinessDelay: 5 * s, Steps: steps, Margin: 3 * s, StopTimeout: 20 * s}, ""},
		{"exactly", fxshutdown.Plan{Grace: 25*s + 300*time.Millisecond, ReadinessDelay: 5 * s, Steps: steps, Margin: 3 * s}, ""},
		{"preStop 10 s and a 30 s app timeout in the default 30 s grace",
			fxshutdown.Plan{Grace: 30 * s, ReadinessDelay: 10 * s, Steps: []fxshutdown.PlannedStep{{"http-server", 30 * s}}, Margin: 3 * s},
			"the stop needs 43s but the termination grace is 30s: readiness delay 10s + http-server 30s + margin 3s = 43s of 30s"},
		{"fx would skip steps", fxshutdown.Plan{Grace: 60 * s, Steps: steps, Margin: 3 * s, StopTimeout: 15 * s},
			"fx's StopTimeout 15s is shorter than the steps' 17.3s"},
	} {
		err := c.plan.Check()
		if c.err == "" {
			assert.NoError(t, err, c.name)
		} else if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.err, c.name)
		}
	}
}

// The plan lists the steps in stop order with their bounds; the grace
// comes from the environment when set, in seconds or as a duration; the
// margin defaults to a tenth of the grace, at least 1 s.
func TestPlanFromShutdown(t *testing.T) {
	sd := fxshutdown.New(fxshutdown.Config{TerminationGrace: 20 * s, ReadinessDelay: 2 * s, StepTimeout: 3 * s, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }})
	sd.Add(fxshutdown.Step{Name: "async-tasks", Run: func(context.Context) error { return nil }, Timeout: 5 * s})
	p := sd.Plan(15 * s)
	assert.Equal(t, []fxshutdown.PlannedStep{{"async-tasks", 5 * s}, {"database", 3 * s}}, p.Steps)
	assert.Equal(t, 20*s, p.Grace)
	assert.Equal(t, 2*s, p.Margin)
	assert.Equal(t, 12*s, p.Total())
	assert.NoError(t, p.Check())

	t.Setenv(fxshutdown.TerminationGraceEnv, "45")
	assert.Equal(t, 45*s, sd.Plan(0).Grace)
	t.Setenv(fxshutdown.TerminationGraceEnv, "5s")
	p = sd.Plan(0)
	assert.Equal(t, 5*s, p.Grace)
	assert.Equal(t, s, p.Margin)
	assert.Error(t, p.Check(), "2 s + 8 s + 1 s does not fit in 5 s")
}

// A preStop hook counts against the grace, before the readiness delay.
func TestPlanCountsPreStop(t *testing.T) {
	t.Setenv(fxshutdown.PreStopEnv, "5")
	sd := fxshutdown.New(fxshutdown.Config{TerminationGrace: 10 * s, StepTimeout: 3 * s, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "database", Run: func(context.Context) error { return nil }})
	p := sd.Plan(0)
	assert.Equal(t, 5*s, p.PreStop)
	assert.Equal(t, 5*s+3*s+s, p.Total())
	assert.Equal(t, "preStop 5s + readiness delay 0s + database 3s + margin 1s = 9s of 10s", p.String())
}
