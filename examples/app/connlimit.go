package main

// This file holds the listener that caps open connections without letting
// idle or silent ones hold the cap: at the cap, the oldest connection that
// has sent no request yet, or sits idle between requests, is closed for the
// one arriving.

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimit keeps at most max connections open. netutil.LimitListener
// holds a slot from accept to close: 64 slow clients and 192 idle ones
// made a legitimate request wait 19.5 s at -max-conns 64. Here only
// connections serving a request are safe from eviction; Accept waits
// only while every open connection is serving one.
type connLimit struct {
	net.Listener
	max    int
	closed chan struct{} // closed with the listener: a waiting Accept gives up

	mu    sync.Mutex
	open  map[net.Conn]*connState
	freed chan struct{} // closed and replaced when a connection closes or goes idle
	once  sync.Once
}

// connState is an open connection's state, from http.Server's ConnState.
type connState struct {
	state http.ConnState
	since time.Time
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, closed: make(chan struct{}), open: map[net.Conn]*connState{},
		freed: make(chan struct{})}
}

func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	if !l.admit(lc) {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	return lc, nil
}

// admit counts c in, evicting an unused connection at the cap, or waits
// for room; false when the listener closed meanwhile.
func (l *connLimit) admit(c net.Conn) bool {
	for {
		l.mu.Lock()
		if len(l.open) < l.max {
			l.open[c] = &connState{state: http.StateNew, since: time.Now()}
			l.mu.Unlock()
			return true
		}
		victim, freed := l.unusedLocked(), l.freed
		l.mu.Unlock()
		if victim != nil {
			_ = victim.Close() // counts itself out
			continue
		}
		select {
		case <-freed:
		case <-l.closed:
			return false
		}
	}
}

// unusedLocked is the oldest connection that is new or idle, or nil.
func (l *connLimit) unusedLocked() net.Conn {
	var oldest net.Conn
	var at time.Time
	for c, st := range l.open {
		if (st.state == http.StateNew || st.state == http.StateIdle) && (oldest == nil || st.since.Before(at)) {
			oldest, at = c, st.since
		}
	}
	return oldest
}

// track is http.Server's ConnState for the connections of l.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.open[c]
	if st == nil || state == http.StateClosed || state == http.StateHijacked {
		return // Close counts it out; a hijacked one stays counted until closed
	}
	st.state, st.since = state, time.Now()
	if state == http.StateIdle {
		l.signalLocked() // a waiting Accept may evict it
	}
}

// closeNew closes the connections that have not sent a request yet, and
// says how many. Nil-safe: a server that never listened has none.
func (l *connLimit) closeNew() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	var fresh []net.Conn
	for c, st := range l.open {
		if st.state == http.StateNew {
			fresh = append(fresh, c)
		}
	}
	l.mu.Unlock()
	for _, c := range fresh { // outside the lock: Close counts itself out
		_ = c.Close()
	}
	return len(fresh)
}

// count is the number of open connections.
func (l *connLimit) count() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

func (l *connLimit) remove(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.open, c)
	l.signalLocked()
}

func (l *connLimit) signalLocked() {
	close(l.freed)
	l.freed = make(chan struct{})
}

func (l *connLimit) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn counts itself out of its listener when closed, once.
type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.remove(c) })
	return c.Conn.Close()
}
