package fxshutdown

// This file holds the stop's plan: how the termination grace that
// Kubernetes gives a pod (terminationGracePeriodSeconds) is spent, phase by
// phase, checked before the application starts.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// TerminationGraceEnv, when set, is the termination grace ("30s", or
// seconds: "30") and overrides Config.TerminationGrace: a manifest sets it
// from the same number as terminationGracePeriodSeconds.
const TerminationGraceEnv = "FXSHUTDOWN_TERMINATION_GRACE"

// PreStopEnv, when set, is the pod's preStop hook's time ("5s", or seconds)
// and overrides Config.PreStop.
const PreStopEnv = "FXSHUTDOWN_PRESTOP"

// Plan is how a stop spends the termination grace: the pod's preStop hook
// (before SIGTERM), the readiness delay (endpoints stop routing), then each
// step's bound in stop order (the HTTP drain, the background drain with its
// grace, the rest), then a safety margin before the kill.
type Plan struct {
	Grace          time.Duration // 0: no grace given, nothing to check
	PreStop        time.Duration
	ReadinessDelay time.Duration
	Steps          []PlannedStep // in stop order
	Margin         time.Duration
	StopTimeout    time.Duration // fx's budget for every stop hook; 0: unknown
}

// PlannedStep is one step's slice of the plan.
type PlannedStep struct {
	Name  string
	Bound time.Duration
}

// StepsTotal is the steps' bounds added up: what fx's StopTimeout must cover.
func (p Plan) StepsTotal() time.Duration {
	var t time.Duration
	for _, s := range p.Steps {
		t = addSat(t, s.Bound)
	}
	return t
}

// Total is the whole stop at its worst: delay, steps and margin.
func (p Plan) Total() time.Duration {
	return addSat(addSat(addSat(p.PreStop, p.ReadinessDelay), p.StepsTotal()), p.Margin)
}

// addSat adds two durations of at least zero, stopping at the largest one
// instead of overflowing into a negative sum that would fit any grace.
func addSat(a, b time.Duration) time.Duration {
	a, b = max(a, 0), max(b, 0)
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Check says, with the numbers, why the plan does not fit: the phases
// overrun the grace, or fx's StopTimeout would skip steps. A plan with no
// grace always fits.
func (p Plan) Check() error {
	if p.Grace <= 0 {
		return nil
	}
	var errs []error
	if p.Total() > p.Grace {
		errs = append(errs, fmt.Errorf("the stop needs %v but the termination grace is %v: %s", p.Total(), p.Grace, p))
	}
	if p.StopTimeout > 0 && p.StopTimeout < p.StepsTotal() {
		errs = append(errs, fmt.Errorf("fx's StopTimeout %v is shorter than the steps' %v: fx would skip the last ones",
			p.StopTimeout, p.StepsTotal()))
	}
	return errors.Join(errs...)
}

// String is the plan on one line.
func (p Plan) String() string {
	var parts []string
	if p.PreStop > 0 {
		parts = append(parts, fmt.Sprintf("preStop %v", p.PreStop))
	}
	parts = append(parts, fmt.Sprintf("readiness delay %v", p.ReadinessDelay))
	for _, s := range p.Steps {
		parts = append(parts, fmt.Sprintf("%s %v", s.Name, s.Bound))
	}
	parts = append(parts, fmt.Sprintf("margin %v", p.Margin))
	return fmt.Sprintf("%s = %v of %v", strings.Join(parts, " + "), p.Total(), p.Grace)
}

// Plan returns the stop's plan for the steps registered so far, with fx's
// StopTimeout when known (Run passes it).
func (s *Shutdown) Plan(stopTimeout time.Duration) Plan {
	p := Plan{Grace: s.duration(TerminationGraceEnv, s.cfg.TerminationGrace), PreStop: s.duration(PreStopEnv, s.cfg.PreStop),
		ReadinessDelay: max(s.cfg.ReadinessDelay, 0), StopTimeout: stopTimeout}
	p.Margin = s.cfg.SafetyMargin
	if p.Margin <= 0 {
		p.Margin = max(time.Second, p.Grace/10)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.steps) - 1; i >= 0; i-- {
		p.Steps = append(p.Steps, PlannedStep{Name: s.steps[i].name, Bound: s.steps[i].timeout})
	}
	return p
}

// duration reads env ("30s", or whole seconds: "30"), else returns def. A
// value that is negative, or too large for a time.Duration, is unreadable:
// it is ignored with a warning, never wrapped into another number.
func (s *Shutdown) duration(env string, def time.Duration) time.Duration {
	v := os.Getenv(env)
	if v == "" {
		return max(def, 0)
	}
	if d, ok := parseDuration(v); ok {
		return d
	}
	s.log.Warn("ignoring an unreadable duration", zap.String("env", env), zap.String("value", logx.Value(v)))
	return max(def, 0)
}

func parseDuration(v string) (time.Duration, bool) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, d >= 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/int64(time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
