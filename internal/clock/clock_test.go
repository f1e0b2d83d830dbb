package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestManualFiresOnlyWhenDue(t *testing.T) {
	var m Manual
	fired := make(chan string, 3)
	m.AfterFunc(10*time.Millisecond, func() { fired <- "a" })
	stopB := m.AfterFunc(20*time.Millisecond, func() { fired <- "b" })
	go m.AfterFunc(time.Second, func() { fired <- "c" })
	m.WaitForTimers(3)
	m.Advance(10 * time.Millisecond)
	assert.Equal(t, "a", <-fired)
	assert.True(t, stopB(), "b had not fired")
	assert.False(t, stopB(), "b is already stopped")
	m.Advance(time.Second)
	assert.Equal(t, "c", <-fired)
	assert.Empty(t, fired)
}

func TestRealAfterFunc(t *testing.T) {
	done := make(chan struct{})
	Real.AfterFunc(0, func() { close(done) })
	<-done
	assert.True(t, Real.AfterFunc(time.Hour, func() {})(), "an hour-long timer stops before it fires")
}

// StepTo runs each timer at its own time, and a timer set by one that ran
// runs too when it falls before the target, on the caller's goroutine.
func TestManualStepToRunsTimersInTimeOrder(t *testing.T) {
	var m Manual
	var got []time.Duration
	m.AfterFunc(20*time.Millisecond, func() { got = append(got, m.Elapsed()) })
	m.AfterFunc(10*time.Millisecond, func() {
		got = append(got, m.Elapsed())
		m.AfterFunc(5*time.Millisecond, func() { got = append(got, m.Elapsed()) })
	})
	m.AfterFunc(time.Second, func() { got = append(got, m.Elapsed()) })
	for m.StepTo(100 * time.Millisecond) {
	}
	assert.Equal(t, []time.Duration{10 * time.Millisecond, 15 * time.Millisecond, 20 * time.Millisecond}, got)
	assert.Equal(t, 100*time.Millisecond, m.Elapsed())
	assert.Equal(t, time.Unix(0, 0).Add(100*time.Millisecond), m.Now())
	assert.False(t, m.StepTo(50*time.Millisecond), "nothing due, and the clock never goes back")
	assert.Equal(t, 100*time.Millisecond, m.Elapsed())
}
