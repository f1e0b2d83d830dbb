package main

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// At the cap, slow clients (a header that never ends) and idle ones (no
// byte sent) cannot make a legitimate request wait for their header
// timeout: the oldest of them is closed for it. With netutil's
// LimitListener it waited for the slow ones' 5 s timeouts, behind every
// idle one in the backlog (19.5 s at 64 + 192).
func TestConnLimitEvictsUnusedConnectionsAtTheCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := newConnLimit(ln, 4)
	srv := &http.Server{ReadHeaderTimeout: time.Minute, ConnState: cl.track,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(cl) }()
	defer srv.Close()
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			_ = c.Close()
		}
	}()
	for i := 0; i < 4+12; i++ { // 4 slow, then 12 idle
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		if i < 4 {
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // the header never ends
			require.NoError(t, err)
		}
		flood = append(flood, c)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	require.NoError(t, err, "answered although the slow clients' header timeout is a minute")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(body))
	cl.mu.Lock()
	assert.LessOrEqual(t, len(cl.open), 4, "the cap holds")
	cl.mu.Unlock()
}

// A connection serving a request is never evicted: with every slot busy,
// Accept waits for one to end.
func TestConnLimitKeepsBusyConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := newConnLimit(ln, 1)
	release := make(chan struct{})
	srv := &http.Server{ConnState: cl.track, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})}
	go func() { _ = srv.Serve(cl) }()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	slow := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	require.Eventually(t, func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		for _, st := range cl.open {
			if st.state == http.StateActive {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	fast := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/fast")
		if err != nil {
			fast <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fast <- string(b)
	}()
	close(release)
	assert.Equal(t, "/slow", <-slow, "the busy connection was not evicted")
	assert.Equal(t, "/fast", <-fast, "the next one got the slot")
}
