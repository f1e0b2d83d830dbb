package fxasynctest

// This file holds the test's log: the scheduler's lines go to t.Log, and
// its errors are kept to name in the test's failure.

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// maxErrors is how many logged errors a failure names.
const maxErrors = 10

type logs struct {
	logger *zap.Logger
	errs   *observer.ObservedLogs
	w      *testWriter
}

// newLogs is the test's log and, when also is not nil, that logger too.
func newLogs(t testing.TB, also *zap.Logger) *logs {
	w := &testWriter{t: t}
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	obs, errs := observer.New(zapcore.ErrorLevel)
	cores := []zapcore.Core{zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.DebugLevel), obs}
	if also != nil {
		cores = append(cores, also.Core())
	}
	return &logs{logger: zap.New(zapcore.NewTee(cores...)), errs: errs, w: w}
}

// close stops writing to the test, which is ending.
func (l *logs) close() { l.w.close() }

// errors is the first logged errors, one a line, with their label and
// error or panic.
func (l *logs) errors() string {
	var b strings.Builder
	entries := l.errs.All()
	for i, e := range entries {
		if i == maxErrors {
			fmt.Fprintf(&b, "\n\t… and %d more", len(entries)-maxErrors)
			break
		}
		fmt.Fprintf(&b, "\n\t%s", e.Message)
		m := e.ContextMap()
		for _, k := range []string{"label", "error", "panic"} {
			if v, ok := m[k]; ok {
				fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(v))
			}
		}
	}
	return b.String()
}

// testWriter writes lines to t.Log until closed: testing panics on a Log
// after the test has ended, and a stuck task may log then.
type testWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
