package core

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type marshalPanics struct{ V int }

func (marshalPanics) MarshalJSON() ([]byte, error)                 { panic("MarshalJSON") }
func (marshalPanics) MarshalText() ([]byte, error)                 { panic("MarshalText") }
func (marshalPanics) MarshalLogObject(zapcore.ObjectEncoder) error { panic("MarshalLogObject") }

type jsonPanics struct{}

func (jsonPanics) MarshalJSON() ([]byte, error) { panic("MarshalJSON") }

type stringPanics struct{}

func (stringPanics) String() string { panic(stringPanics{}) }

type errorPanics struct{}

func (*errorPanics) Error() string { panic("Error") }

// syncBuffer is a zap sink that tests read after the tasks have run.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logging a panic value or an error never panics, whatever its marshallers
// do: with zap.Any a JSON encoder called them and crashed the process.
func TestHostilePanicValuesAndErrorsAreLogged(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&out), zap.DebugLevel))
	e := New(Config{Logger: log})
	var nilErr *errorPanics
	values := []any{marshalPanics{1}, jsonPanics{}, stringPanics{}, &errorPanics{}, nilErr,
		map[string]any{"k": marshalPanics{}}, []any{jsonPanics{}}, errors.New("plain")}
	for _, v := range values {
		require.NoError(t, e.Go(context.Background(), "hostile", func(context.Context) error { panic(v) }, 0))
	}
	require.NoError(t, e.Go(context.Background(), "hostile-error", func(context.Context) error { return &errorPanics{} }, 0))
	require.NoError(t, e.Drain(context.Background()))
	st := e.Stats().Total
	assert.Equal(t, int64(len(values)), st.Panicked)
	assert.Equal(t, int64(1), st.Failed)
	assert.Equal(t, len(values), bytes.Count([]byte(out.String()), []byte(`"msg":"async task panicked"`)))
	assert.Contains(t, out.String(), `"msg":"async task failed"`)
}

// panic(nil) is a panic under either GODEBUG setting: with panicnil=1,
// recover returns nil, which used to be taken for runtime.Goexit.
func TestPanicNilIsAPanicUnderEitherGODEBUG(t *testing.T) {
	for _, godebug := range []string{"panicnil=0", "panicnil=1"} {
		t.Run(godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", godebug)
			e, logs := newTestEngine(t, Config{})
			require.NoError(t, e.Go(context.Background(), "nil-panic", func(context.Context) error { panic(nil) }, 0))
			require.NoError(t, e.Go(context.Background(), "goexit", func(context.Context) error { runtime.Goexit(); return nil }, 0))
			require.NoError(t, e.Drain(context.Background()))
			assert.Equal(t, 1, logs.FilterMessage("async task panicked").Len())
			assert.Equal(t, 1, logs.FilterMessage("async task called runtime.Goexit").Len())
			st := e.Stats().Total
			assert.Equal(t, int64(1), st.Panicked)
			assert.Equal(t, int64(1), st.Failed)
		})
	}
}

// A logger that panics while writing costs the log line, never the process
// or the accounting.
func TestPanickingLoggerIsContained(t *testing.T) {
	t.Parallel()
	e := New(Config{Logger: zap.New(panicCore{zapcore.NewNopCore()})})
	require.NoError(t, e.Go(context.Background(), "x", func(context.Context) error { return errors.New("e") }, 0))
	require.NoError(t, e.Go(context.Background(), "y", func(context.Context) error { panic("p") }, 0))
	require.NoError(t, e.Drain(context.Background()))
	assert.Equal(t, int64(1), e.Stats().Total.Failed)
	assert.Equal(t, int64(1), e.Stats().Total.Panicked)
}

type panicCore struct{ zapcore.Core }

func (c panicCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (panicCore) Write(zapcore.Entry, []zapcore.Field) error { panic("sink broke") }
func (panicCore) Enabled(zapcore.Level) bool                 { return true }
