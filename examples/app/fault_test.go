package main

// This file tests the service's writes against real database faults, made
// on the test's own database, never on the shared server: a TCP proxy the
// test owns that cuts a connection once Postgres has run its COMMIT but
// before the answer comes back; Postgres refusing connections during a
// stop; SQLite locked by another connection for longer than the busy
// timeout.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// cutProxy forwards connections to Postgres. Armed, it cuts the first
// connection that sends a COMMIT once the server has answered it: the
// transaction is committed, and the client hears only a broken connection.
type cutProxy struct {
	l      net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int64
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { _ = l.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.wg.Add(2)
		committed := make(chan struct{}) // closed once a COMMIT was sent on this connection while armed
		go func() { defer p.wg.Done(); p.clientToServer(c, s, committed) }()
		go func() { defer p.wg.Done(); p.serverToClient(s, c, committed) }()
	}
}

var commitMsg = []byte("commit")

func (p *cutProxy) clientToServer(c, s net.Conn, committed chan struct{}) {
	defer s.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			cut := bytes.Contains(bytes.ToLower(buf[:n]), commitMsg) && p.armed.CompareAndSwap(true, false)
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
			if cut {
				close(committed)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serverToClient forwards answers; after a cut COMMIT it waits for the
// server's answer to it, drops it, and closes both ends.
func (p *cutProxy) serverToClient(s, c net.Conn, committed chan struct{}) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		select {
		case <-committed:
			p.cuts.Add(1) // the server answered the COMMIT: it is done
			_ = s.Close()
			return
		default:
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// proxied returns dsn with its host replaced by the proxy's.
func proxied(t *testing.T, dsn string, p *cutProxy) (proxyDSN, target string) {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	target = u.Host
	u.Host = p.l.Addr().String()
	return u.String(), target
}

// A connection cut at COMMIT, 1,000 rounds: the batcher writes again the
// items of the write whose answer was lost (in halves, or after a backoff),
// and the unique request_id makes that write add nothing. No row twice,
// none lost.
func TestUsageRowsSurviveConnectionsCutAtCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 rounds on Postgres")
	}
	dsn := postgresDB(t)
	u, _ := url.Parse(dsn)
	p := newCutProxy(t, u.Host)
	pdsn, _ := proxied(t, dsn, p)
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	db, err := OpenDB(Config{DBPath: pdsn}, sd)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sd.Stop(context.Background()) })
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	var writeErrs atomic.Int64
	write := func(ctx context.Context, us []Usage) error {
		err := db.InsertUsageBatch(ctx, us)
		if err != nil {
			writeErrs.Add(1)
		}
		return err
	}
	b := fxasync.NewBatcher(s, "usage-rows", write, fxasync.BatcherConfig{MaxBatch: 3,
		Retry: fxasync.Retry{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	const rounds, perRound = 1000, 3
	for r := 0; r < rounds; r++ {
		p.armed.Store(true)
		for i := 0; i < perRound; i++ {
			require.NoError(t, b.Add(context.Background(), Usage{RequestID: fmt.Sprintf("cut-%d-%d", r, i), Model: "m"}))
		}
		require.Eventually(t, func() bool { return b.Stats().Pending == 0 }, 30*time.Second, time.Millisecond, "round %d", r)
	}
	require.NoError(t, s.Drain(context.Background()))
	st := b.Stats()
	var rows, distinct int
	check := openDSN(t, dsn)
	defer check.Close()
	require.NoError(t, check.QueryRow("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM model_usage").Scan(&rows, &distinct))
	t.Logf("%d rounds: %d cuts at COMMIT, %d failed writes, %d retried, %d rows", rounds, p.cuts.Load(), writeErrs.Load(), st.Retries, rows)
	assert.Equal(t, int64(rounds), p.cuts.Load(), "every round's first COMMIT landed and its answer was lost")
	assert.Equal(t, rounds*perRound, rows, "none lost, none twice")
	assert.Equal(t, rows, distinct)
	assert.Zero(t, st.Failed)
	assert.Equal(t, int64(rounds), writeErrs.Load(), "each cut COMMIT failed its write, which was written again (split or retried)")
}

// refuseConnections makes Postgres refuse new connections to the test's
// database and ends its sessions; the returned func restores it (also at
// cleanup).
func refuseConnections(t *testing.T, dsn string) (restore func()) {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	name := u.Path[1:]
	u.Path = "/postgres"
	admin := openDSN(t, u.String())
	t.Cleanup(func() { _ = admin.Close() }) // after the restore below: cleanups run last first
	_, err = admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	require.NoError(t, err)
	_, err = admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	require.NoError(t, err)
	var once sync.Once
	restore = func() {
		once.Do(func() { _, _ = admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true") })
	}
	t.Cleanup(restore)
	return restore
}

// A stop during an outage, drain timeout 2 s: the stop ends within its
// bound, River cannot keep the rows (it lives in the same database), so
// they are counted lost — and the count is exactly the answered rows that
// are missing — and the exit is 3 (fxshutdown.ExitLost).
func TestE2EStopDuringAnOutageCountsItsLossExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	dsn := postgresDB(t)
	bin := buildService(t)
	p := startService(t, bin, "-db", dsn, "-drain-timeout", "2s")
	before := chatIDs(t, p.addr, 50)
	waitForRows(t, dsn, "model_usage", len(before))
	restore := refuseConnections(t, dsn)
	during := chatIDs(t, p.addr, 200)
	require.Len(t, during, 200, "answered through the outage: the rows fit the bounds")
	code, took := p.stop(t)
	restore()
	log := p.logs()
	assert.Equal(t, fxshutdown.ExitLost, code, log)
	assert.Less(t, took, 10*time.Second, "the stop ends within its plan")
	rows := usageIDs(t, dsn)
	missing := 0
	for _, id := range append(before, during...) {
		assert.LessOrEqual(t, rows[id], 1, "rows for %s", id)
		if rows[id] == 0 {
			missing++
		}
	}
	summary := lineWith(log, `"msg":"shutdown finished"`)
	m := regexp.MustCompile(`"lost":(\d+)`).FindStringSubmatch(summary)
	require.NotNil(t, m, log)
	lost, _ := strconv.Atoi(m[1])
	assert.Positive(t, missing)
	assert.Equal(t, missing, lost, "the summary's loss is the rows missing, exactly: %s", summary)
}

// SQLite locked by another connection (BEGIN EXCLUSIVE) for longer than
// the busy timeout while rows keep coming: the writes fail with
// SQLITE_BUSY, are retried, and every accepted row is written once.
func TestUsageRowsSurviveALockedSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a lock for 10 s")
	}
	path := filepath.Join(t.TempDir(), "locked.db")
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.NewNop()})
	db, err := OpenDB(Config{DBPath: path}, sd)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sd.Stop(context.Background()) })
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: time.Minute})
	b := fxasync.NewBatcher(s, "usage-rows", db.InsertUsageBatch, fxasync.BatcherConfig{MaxDelay: 10 * time.Millisecond})

	for i := 0; i < 200; i++ { // the batcher learns its write rate, and so its room
		require.NoError(t, b.Add(context.Background(), Usage{RequestID: fmt.Sprintf("warm-%d", i), Model: "m"}))
	}
	require.Eventually(t, func() bool { return b.Stats().Pending == 0 }, 10*time.Second, time.Millisecond)
	locker, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	require.NoError(t, err)
	_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	const n = 2000 // 200 a second for 10 s: twice the busy timeout
	accepted := 0
	for i := 0; i < n; i++ {
		if b.Add(context.Background(), Usage{RequestID: fmt.Sprintf("lock-%d", i), Model: "m"}) == nil {
			accepted++
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err = conn.ExecContext(context.Background(), "COMMIT")
	require.NoError(t, err)
	_ = conn.Close()
	require.NoError(t, s.Drain(context.Background()))
	st := b.Stats()
	rows := countRows(t, path, "model_usage")
	t.Logf("accepted %d of %d under a 10 s lock; %d writes retried; %d rows", accepted, n, st.Retries, rows)
	assert.Equal(t, n, accepted, "the rows fit the bounds: none refused")
	assert.Equal(t, accepted+200, rows)
	assert.Positive(t, st.Retries, "the lock outlasted the busy timeout: writes failed and were retried")
	assert.Zero(t, st.Failed)
}
