package main

import (
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
