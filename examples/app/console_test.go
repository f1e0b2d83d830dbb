package main

// This file replays the console session of docs/example.md against the
// built service: each "$ " command runs in bash (curl, printf, grep) with
// the service's real address, and its output must be the doc's, but for
// what changes from run to run.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// variable are the parts of an answer that change from run to run: a
// request id, its time, the pending count of a health answer.
var variable = regexp.MustCompile(`"id":"chatcmpl-[^"]+"|"created":[0-9]+|"pending":[0-9]+`)

func TestDocsConsoleSessionIsTheBinarys(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	doc, err := os.ReadFile("../../docs/example.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "```console\n")
	require.True(t, ok, "docs/example.md has no console block")
	session, _, _ := strings.Cut(rest, "```")
	cmds, outputs := parseSession(session)
	require.NotEmpty(t, cmds)
	start, ok := strings.CutPrefix(cmds[0], "go run -C examples/app . ")
	require.True(t, ok, "the session starts the service: %q", cmds[0])
	p := startService(t, buildService(t), append(strings.Fields(start), "-db", t.TempDir()+"/console.db")...)
	for i, cmd := range cmds[1:] {
		if strings.Contains(cmd, "/metrics") {
			waitIdle(t, p.addr) // the figures of the writes the commands before it started
		}
		out, err := exec.Command("bash", "-o", "pipefail", "-c", strings.ReplaceAll(cmd, "localhost:8080", p.addr)).Output()
		require.NoError(t, err, "$ %s", cmd)
		got := strings.TrimRight(string(out), "\n")
		assert.Equal(t, variable.ReplaceAllString(outputs[i+1], "…"), variable.ReplaceAllString(got, "…"), "$ %s", cmd)
	}
	code, _ := p.stop(t)
	assert.Equal(t, 0, code, p.logs())
}

// parseSession splits a console block into its commands (lines after "$ ")
// and the output each printed.
func parseSession(s string) (cmds, outputs []string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			cmds, outputs = append(cmds, cmd), append(outputs, "")
			continue
		}
		if n := len(outputs); n > 0 {
			outputs[n-1] = strings.TrimPrefix(outputs[n-1]+"\n"+line, "\n")
		}
	}
	return cmds, outputs
}

// waitIdle waits until the service has no background task pending.
func waitIdle(t *testing.T, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		require.NoError(t, err)
		var h struct{ Pending int }
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if json.Unmarshal(b.Bytes(), &h) == nil && h.Pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the service still had pending tasks after 30 s")
}
