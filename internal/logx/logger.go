// Package logx holds what fxasync and fxshutdown need to write log lines that
// nothing a user passes in can break: the fallback logger, renderings of
// panic values and errors that cannot panic and are bounded in size, and a
// guard around a logger that itself panics.
package logx

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Stderr returns the logger used when none is given: console lines on stderr
// from level up, so failures are never swallowed.
func Stderr(level zapcore.Level) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), level))
}

// Guard runs a logging call and swallows a panic from it (a broken encoder,
// core or sink): a log line is never worth the process. It reports whether
// the call panicked.
func Guard(log func()) (panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	log()
	return false
}
