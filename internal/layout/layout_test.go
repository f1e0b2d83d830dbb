package layout

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTwoWayPairs(t *testing.T) {
	pairs, err := TwoWayPairs("testdata/twoway")
	require.NoError(t, err)
	assert.Equal(t, []string{"a.go <-> b.go"}, pairs)
	pairs, err = TwoWayPairs("testdata/oneway")
	require.NoError(t, err)
	assert.Empty(t, pairs)
}
