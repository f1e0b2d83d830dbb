package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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

// The attack's flood against the real service: 64 slow clients (a header
// that never ends) and 192 idle connections at -max-conns 64. A legitimate
// request is answered before the slow clients' 5 s header timeout could
// free a slot (it waited 19.5 s behind netutil's LimitListener).
func TestConnectionFloodDoesNotDelayALegitimateRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	p := startService(t, buildService(t), "-max-conns", "64")
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			_ = c.Close()
		}
	}()
	for i := 0; i < 64+192; i++ {
		c, err := net.Dial("tcp", p.addr)
		require.NoError(t, err)
		if i < 64 {
			_, err = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
			require.NoError(t, err)
		}
		flood = append(flood, c)
	}
	start := time.Now()
	client := &http.Client{Timeout: 4 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post("http://"+p.addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m1","messages":[{"role":"user","content":"legit"}]}`))
	require.NoError(t, err, "not answered within 4 s, before the header timeout frees a slot")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	t.Logf("answered in %v behind 64 slow and 192 idle connections", time.Since(start).Round(time.Millisecond))
	code, _ := p.stop(t)
	assert.Equal(t, 0, code, p.logs())
}
