package fxshutdown

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Exit codes returned by Run; a forced exit uses 128 + the signal's number.
const (
	ExitOK     = 0
	ExitFailed = 1 // the start failed, or a step failed or overran
	ExitLost   = 3 // every step succeeded but one reported lost work; see Config.IgnoreLoss
)

// Run builds an fx application from opts, which must include Module, starts
// it and blocks until SIGINT, SIGTERM or an fx.Shutdowner asks it to stop.
// Then it marks the application not ready, waits Config.ReadinessDelay, and
// stops it within fx's StopTimeout. A signal during the start cancels the
// start (fx stops what had started) and Run returns ExitFailed. A second
// signal, during the start, the delay or the stop, exits the process at
// once with 128 + the signal's number, after a log line that says so.
// Otherwise Run returns the exit code for os.Exit: see the package
// documentation.
func Run(opts ...fx.Option) int {
	return run(opts, runEnv{exit: os.Exit, notify: signal.Notify, stop: signal.Stop})
}

// runEnv is what Run takes from the process, replaced in tests.
type runEnv struct {
	exit   func(int)
	notify func(chan<- os.Signal, ...os.Signal)
	stop   func(chan<- os.Signal)
}

func run(opts []fx.Option, env runEnv) int {
	var sd *Shutdown
	app := fx.New(append(opts, fx.Populate(&sd))...)
	if err := app.Err(); err != nil {
		return ExitFailed // fx has logged why
	}
	sd.underRun.Store(true)
	if !sd.checkPlan(app.StopTimeout()) {
		return ExitFailed
	}
	sigs := make(chan os.Signal, 2)
	env.notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer func() { env.stop(sigs); close(sigs) }() // ends watchSignals
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	first := make(chan os.Signal, 1)
	go watchSignals(sigs, first, cancel, sd, env.exit) // from before the start: migrations can take long
	began := time.Now()
	sd.ready.starting.Store(true) // not ready until every start hook has run
	if err := app.Start(startCtx); err != nil {
		select {
		case sig := <-first:
			sd.log.Error("signal received during the start: start cancelled", zap.Stringer("signal", sig),
				zap.String("error", logx.Value(err)))
		default:
			sd.log.Error("start failed", zap.String("error", logx.Value(err)))
		}
		return ExitFailed
	}
	sd.ready.starting.Store(false)
	sd.log.Info("application started", zap.Duration("took", time.Since(began)))
	code := ExitOK
	select {
	case sig := <-first:
		sd.log.Info("signal received: shutting down", zap.Stringer("signal", sig))
	case s := <-app.Wait():
		code = s.ExitCode
		logRequest(sd, first, s)
	}
	return stopApp(app, sd, code)
}

// signalGrace is how long a stop that fx reports waits to learn whether a
// signal caused it: fx watches signals too, and one SIGTERM used to log
// "signal received" or "shutdown requested" by chance.
const signalGrace = 20 * time.Millisecond

// logRequest logs, once, why fx reports a stop: the signal that Run saw
// too, or an fx.Shutdowner's request.
func logRequest(sd *Shutdown, first <-chan os.Signal, s fx.ShutdownSignal) {
	t := time.NewTimer(signalGrace)
	defer t.Stop()
	select {
	case sig := <-first:
		sd.log.Info("signal received: shutting down", zap.Stringer("signal", sig))
	case <-t.C:
		sd.log.Info("shutdown requested", zap.Int("exit_code", s.ExitCode))
	}
}

// watchSignals passes the first signal on, cancelling the start if it is
// still under way, and turns the second into an immediate exit, logging
// what the steps still had in hand.
func watchSignals(sigs <-chan os.Signal, first chan<- os.Signal, cancelStart func(), sd *Shutdown, exit func(int)) {
	log := sd.log
	sig, ok := <-sigs
	if !ok {
		return
	}
	first <- sig
	cancelStart()
	if sig, ok = <-sigs; !ok {
		return
	}
	code := 128 + int(sig.(syscall.Signal))
	log.Error("second signal during shutdown: exiting now", zap.Stringer("signal", sig), zap.Int("exit_code", code),
		zap.Int("dropped_pending", sd.pending()))
	_ = log.Sync()
	exit(code)
}

// checkPlan logs the stop's plan when a termination grace is set, and
// reports whether it fits.
func (s *Shutdown) checkPlan(stopTimeout time.Duration) bool {
	p := s.Plan(stopTimeout)
	if p.Grace <= 0 {
		return true
	}
	if err := p.Check(); err != nil {
		s.log.Error("the shutdown plan does not fit: not starting", zap.String("error", logx.Value(err)))
		return false
	}
	s.log.Info("shutdown plan", zap.String("plan", p.String()))
	return true
}

func stopApp(app *fx.App, sd *Shutdown, code int) int {
	sd.ready.SetNotReady()
	if d := sd.cfg.ReadinessDelay; d > 0 {
		sd.log.Info("not ready; waiting before stopping", zap.Duration("delay", d))
		time.Sleep(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(ctx); err != nil || sd.anyFailed() {
		code := sd.exitCode(err)
		if code == ExitFailed {
			sd.log.Error("stop finished with errors; see the summary above", zap.String("error", logx.Value(err)))
		} else { // the summary above logged the loss, once, at ERROR
			sd.log.Info("stop finished: work was lost; see the summary above", zap.Int("exit_code", code))
		}
		return code
	}
	return code
}

// anyFailed reports whether a step's outcome is an error: under Run,
// app.Stop returns nil when the steps only lost work.
func (s *Shutdown) anyFailed() bool {
	for _, o := range s.Outcomes() {
		if o.Err != nil {
			return true
		}
	}
	return false
}

// exitCode is ExitLost when every error of the stop reports lost work (and
// losses count), else ExitFailed.
func (s *Shutdown) exitCode(stopErr error) int {
	for _, o := range s.Outcomes() {
		if o.Err != nil && lostBy(o.Err) == 0 {
			return ExitFailed
		}
	}
	if len(s.Outcomes()) == 0 && isDeadline(stopErr) {
		return ExitFailed
	}
	if s.cfg.IgnoreLoss {
		return ExitOK
	}
	return ExitLost
}

// isDeadline is errors.Is(err, context.DeadlineExceeded), guarded: the
// chain holds the steps' errors, whose Is and Unwrap may panic.
func isDeadline(err error) (is bool) {
	defer func() {
		if recover() != nil {
			is = false
		}
	}()
	return errors.Is(err, context.DeadlineExceeded)
}
