package main

import (
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection that never sends a request does not hold up the stop: the
// http-server step closes it at once instead of waiting up to its bound.
func TestStopClosesConnectionsWithoutARequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	p := startService(t, buildService(t))
	conn, err := net.Dial("tcp", p.addr) // connected, sends nothing
	require.NoError(t, err)
	defer conn.Close()
	// Accepts are in order: once a request on a later connection is
	// answered, the server has accepted the first and seen it as new.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + p.addr + "/livez")
	require.NoError(t, err)
	resp.Body.Close()
	code, _ := p.stop(t)
	require.Equal(t, 0, code, p.logs())
	log := p.logs()
	assert.Contains(t, log, `"msg":"closed connections that had sent no request","connections":1`)
	assert.NotContains(t, log, "still open at the http-server step's bound")
	step := lineWith(log, `"msg":"shutdown step done","step":"http-server"`)
	require.NotEmpty(t, step, log)
}
