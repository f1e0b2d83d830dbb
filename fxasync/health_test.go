package fxasync_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDurationsHistogram(t *testing.T) {
	s, _ := newScheduler(t)
	for i := 0; i < 5; i++ {
		s.Go(context.Background(), "h", ok)
	}
	s.Go(context.Background(), "h", func(context.Context) error { return errors.New("x") })
	require.NoError(t, s.Drain(context.Background()))
	d := s.Stats().Labels[0].Durations
	require.Len(t, d.Counts, len(fxasync.DurationBounds)+1)
	var n int64
	for _, c := range d.Counts {
		n += c
	}
	assert.Equal(t, int64(6), n, "every finished task is in one bucket")
	assert.Positive(t, d.Sum)
	assert.True(t, s.LastDrain().Done)
	assert.Zero(t, s.LastDrain().Abandoned)
}

// A deliberately stuck task fails the health check, which names its label
// and, with Config.CallSites, the line that submitted it.
func TestCheckStuckNamesLabelAndCallSite(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{CallSites: true})
	release, started := make(chan struct{}), make(chan struct{})
	s.Go(context.Background(), "quick", ok)
	s.Go(context.Background(), "stuck-upload", func(context.Context) error { close(started); <-release; return nil })
	<-started
	h := fxasync.HealthHandler(s, time.Millisecond)

	var err error
	require.Eventually(t, func() bool { err = s.CheckStuck(time.Millisecond); return err != nil }, 10*time.Second, time.Millisecond)
	var se *fxasync.StuckError
	require.ErrorAs(t, err, &se)
	require.Len(t, se.Stuck, 1)
	assert.Equal(t, "stuck-upload", se.Stuck[0].Label)
	assert.Contains(t, se.Stuck[0].Caller, "health_test.go:")
	assert.Contains(t, err.Error(), `"stuck-upload" running for`)
	assert.Contains(t, s.Oldest(), "stuck-upload")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "stuck-upload")

	close(release)
	require.NoError(t, s.Drain(context.Background()))
	assert.NoError(t, s.CheckStuck(time.Millisecond))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

// With Config.PprofLabels a goroutine profile taken while a task runs shows the
// task's label; without it, it does not.
func TestPprofLabelsInGoroutineProfile(t *testing.T) {
	profile := func(cfg fxasync.Config) string {
		s, _ := newScheduler(t, cfg)
		release, started := make(chan struct{}), make(chan struct{})
		s.Go(context.Background(), "pprof-visible", func(context.Context) error { close(started); <-release; return nil })
		<-started
		var buf bytes.Buffer
		require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 1))
		close(release)
		require.NoError(t, s.Drain(context.Background()))
		return buf.String()
	}
	assert.Contains(t, profile(fxasync.Config{PprofLabels: true}), `"fxasync_label":"pprof-visible"`)
	assert.NotContains(t, profile(fxasync.Config{}), `"fxasync_label":"pprof-visible"`)
}
