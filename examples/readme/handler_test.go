package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
)

func TestHandlerLogsUsage(t *testing.T) {
	sched := fxasynctest.New(t) // drained and checked when the test ends
	db := &DB{}
	h := NewHandler(sched, db)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/chat", nil))
	fxasynctest.Wait(t, sched) // the row is written; sched still takes tasks

	assert.Equal(t, []Usage{{Path: "/v1/chat"}}, db.Rows())
}

// The presence coalescer: whatever the flips, the last status is stored.
func TestPresenceStoresTheLastStatus(t *testing.T) {
	sched := fxasynctest.New(t)
	db := &DB{}
	presence := NewPresence(sched, db)
	for i := range 1000 {
		status := []string{"online", "away"}[i%2]
		assert.NoError(t, presence.Set(context.Background(), "ada", status))
	}
	fxasynctest.Wait(t, sched)
	db.mu.Lock()
	defer db.mu.Unlock()
	assert.Equal(t, "away", db.status["ada"])
}
