package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

func TestOf(t *testing.T) {
	for _, c := range []struct {
		name                string
		left, want, reserve time.Duration
		bound               time.Duration
	}{
		{"asks less than there is", 15 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"capped by the reserve", 15 * time.Second, time.Hour, 10 * time.Second, 5 * time.Second},
		{"reserve larger than left", 100 * ms, time.Second, 200 * ms, 0},
		{"nothing left", 0, time.Second, 0, 0},
	} {
		assert.Equal(t, c.bound, Of(c.left, c.want, c.reserve), c.name)
	}
}

func TestReserve(t *testing.T) {
	// 300 ms left, two later phases: each is owed min(own, 300/3 = 100 ms).
	assert.Equal(t, 150*ms, Reserve(300*ms, []time.Duration{50 * ms, time.Hour}))
	assert.Equal(t, time.Duration(0), Reserve(300*ms, nil))
	assert.Equal(t, 80*ms, Share(100*ms, 0.2))
	assert.Equal(t, time.Duration(0), Share(100*ms, 1))
}

func TestSplitKeepsGraceAndMarginInside(t *testing.T) {
	for _, c := range []struct{ bound, grace, wait, g time.Duration }{
		{100 * ms, 250 * ms, 70 * ms, 25 * ms}, // the grace shrinks to a quarter; 5 ms margin
		{10 * time.Second, 250 * ms, 10*time.Second - 300*ms, 250 * ms},
		{0, 250 * ms, 0, 0},
		{-time.Second, 250 * ms, 0, 0},
	} {
		w, g := Split(c.bound, c.grace)
		assert.Equal(t, c.wait, w, "wait for %v", c.bound)
		assert.Equal(t, c.g, g, "grace for %v", c.bound)
		if c.bound > 0 {
			assert.LessOrEqual(t, w+g, c.bound)
		}
	}
}
