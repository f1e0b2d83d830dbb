package logx

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error)                 { panic("json") }
func (panicky) MarshalText() ([]byte, error)                 { panic("text") }
func (panicky) MarshalLogObject(zapcore.ObjectEncoder) error { panic("zap") }

type badStringer struct{}

func (badStringer) String() string { panic(badStringer{}) } // panics with itself: fmt cannot print it either

type badError struct{}

func (*badError) Error() string { panic(errors.New("Error() panicked")) }

type badFormatter struct{ error }

func (badFormatter) Format(fmt.State, rune) { panic("format") }

func TestValueNeverPanics(t *testing.T) {
	var nilErr *badError
	for _, v := range []any{panicky{}, badStringer{}, &badError{}, nilErr, badFormatter{errors.New("x")},
		map[string]any{"k": panicky{}}, []any{badStringer{}}, func() {}, make(chan int)} {
		assert.NotPanics(t, func() { s := Value(v); assert.True(t, utf8.ValidString(s)) }, "%T", v)
	}
	assert.Equal(t, "(logx.badStringer value: rendering it panicked)", Value(badStringer{}))
	assert.Equal(t, "kaboom", Value("kaboom"))
	assert.Equal(t, "nil", Value(nil))
	assert.Equal(t, "boom", Value(errors.New("boom")))
}

func TestValueIsBoundedAndValidUTF8(t *testing.T) {
	s := Value(strings.Repeat("é", MaxValueBytes)) // 2 bytes each
	assert.True(t, utf8.ValidString(s))
	assert.Contains(t, s, "more bytes)")
	assert.Less(t, len(s), MaxValueBytes+64)
	assert.Equal(t, "a\uFFFDb", Value("a\xffb"))
}

func TestErrorVerbose(t *testing.T) {
	msg, verbose := Error(errors.New("plain"))
	assert.Equal(t, "plain", msg)
	assert.Empty(t, verbose)
	msg, verbose = Error(badFormatter{errors.New("inner")})
	assert.Equal(t, "inner", msg)
	assert.Contains(t, verbose, "PANIC=Format method", "fmt reports a panicking Format itself")
}

type panicCore struct{ zapcore.Core }

func (c panicCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (panicCore) Write(zapcore.Entry, []zapcore.Field) error { panic("sink broke") }
func (panicCore) Enabled(zapcore.Level) bool                 { return true }

func TestGuardSwallowsALoggerPanic(t *testing.T) {
	log := zap.New(panicCore{zapcore.NewNopCore()})
	assert.True(t, Guard(func() { log.Error("x") }))
	assert.False(t, Guard(func() {}))
}

type goexitError struct{}

func (goexitError) Error() string { runtime.Goexit(); return "" }

type goexitFormatter struct{ error }

func (goexitFormatter) Format(fmt.State, rune) { runtime.Goexit() }

// An Error or Format method that calls runtime.Goexit costs its rendering,
// not the goroutine that logs: the worker's report, a span's end.
func TestValueSurvivesGoexit(t *testing.T) {
	assert.Equal(t, "(logx.goexitError value: rendering it called runtime.Goexit)", Value(goexitError{}))
	msg, verbose := Error(goexitFormatter{errors.New("inner")})
	assert.Equal(t, "inner", msg)
	assert.Empty(t, verbose)
}
