package fxasync

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStopBudget(t *testing.T) {
	parent, cancel := context.WithDeadline(context.Background(), time.Now().Add(10*time.Second))
	defer cancel()
	ctx, cancel2 := stopBudget(parent, 0.5, time.Second)
	defer cancel2()
	d, ok := ctx.Deadline()
	require.True(t, ok)
	assert.LessOrEqual(t, time.Until(d), 4*time.Second, "half of 10 s, less the 1 s grace")

	ctx, cancel3 := stopBudget(context.Background(), 0.5, time.Second)
	defer cancel3()
	_, ok = ctx.Deadline()
	assert.False(t, ok, "no budget to share: the drain timeout alone bounds it")
}
