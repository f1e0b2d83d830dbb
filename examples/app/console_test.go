package main

// This file replays the console session of docs/example.md against the
// built service: each "$ " command runs in bash (curl, printf, grep) with
// the service's real address, and its output must be the doc's, but for
// what changes from run to run.

import (
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
		want := variable.ReplaceAllString(outputs[i+1], "…")
		got, err := run(cmd, p.addr)
		// A metrics line counts the batchers' writes, which start when a
		// batch is due, after the commands before it returned: wait for them.
		for deadline := time.Now().Add(30 * time.Second); strings.Contains(cmd, "/metrics") && got != want && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			got, err = run(cmd, p.addr)
		}
		require.NoError(t, err, "$ %s", cmd)
		assert.Equal(t, want, got, "$ %s", cmd)
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

// run runs a session's command against the service at addr and returns
// what it printed, with the parts that vary replaced.
func run(cmd, addr string) (string, error) {
	out, err := exec.Command("bash", "-o", "pipefail", "-c", strings.ReplaceAll(cmd, "localhost:8080", addr)).Output()
	return variable.ReplaceAllString(strings.TrimRight(string(out), "\n"), "…"), err
}
