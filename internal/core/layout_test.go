package core

import (
	"testing"

	"github.com/fxtools/background/internal/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine's files depend on each other one way only (see doc.go): a file
// that needs another's declarations is not needed by it.
func TestFilesDependOneWay(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the package and its imports from source")
	}
	pairs, err := layout.TwoWayPairs(".")
	require.NoError(t, err)
	assert.Empty(t, pairs)
}
