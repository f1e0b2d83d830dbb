package main

// This file checks the shutdown log that docs/example.md shows against the
// real binary's, so that the sample cannot drift from the service again.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleFields are, per message, the fields the sample shows, in order.
var sampleFields = map[string][]string{
	"signal received: shutting down": {"signal"},
	"shutdown step started":          {"step", "bound"},
	"shutdown step done":             {"step", "took"},
	"draining async tasks":           {"pending"},
	"async tasks drained":            {"took", "lost", "lost_by_label"},
	"shutdown finished":              {"total", "failed", "lost", "steps"},
}

// durations are what changes from run to run — and the pending count, as
// the cache write may be done or not — the test compares the rest.
var durations = regexp.MustCompile(`(took=|total=| in |pending=)[0-9.]+(ns|µs|ms|s)?`)

// durationFields are logged in seconds (zap's production encoder) and
// shown as durations.
var durationFields = map[string]bool{"took": true, "total": true, "bound": true}

// The stop's log in docs/example.md is the binary's, but for durations:
// the messages in order, the steps, their bounds and the figures. With
// FXASYNC_UPDATE_DOCS=1 the test writes the run's log into the doc.
func TestDocsShutdownSampleIsTheBinarys(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	p := startService(t, buildService(t), "-db", t.TempDir()+"/sample.db", "-log-delay", "300ms")
	require.Equal(t, 1, chat(t, p.addr, 1)) // one usage row and one cache write pending
	code, _ := p.stop(t)
	require.Equal(t, 0, code, p.logs())
	got := renderSample(t, p.logs())

	doc, err := os.ReadFile("../../docs/example.md")
	require.NoError(t, err)
	head, rest, ok := strings.Cut(string(doc), "What a stop looks like")
	require.True(t, ok)
	before, block, ok := cutBlock(rest)
	require.True(t, ok, "docs/example.md has no text block after \"What a stop looks like\"")
	if os.Getenv("FXASYNC_UPDATE_DOCS") != "" {
		out := head + "What a stop looks like" + before + "```text\n" + got + "```" + strings.SplitN(rest[len(before)+len("```text\n")+len(block):], "```", 2)[1]
		require.NoError(t, os.WriteFile("../../docs/example.md", []byte(out), 0o644))
		return
	}
	assert.Equal(t, durations.ReplaceAllString(got, "$1…"), durations.ReplaceAllString(block, "$1…"),
		"docs/example.md's shutdown log is not the binary's: FXASYNC_UPDATE_DOCS=1 go test -run TestDocsShutdownSampleIsTheBinarys")
}

// cutBlock finds the first ```text block in s: what comes before it, and
// its body.
func cutBlock(s string) (before, body string, ok bool) {
	before, after, ok := strings.Cut(s, "```text\n")
	if !ok {
		return "", "", false
	}
	body, _, ok = strings.Cut(after, "```")
	return before, body, ok
}

// renderSample renders the log's lines of the stop as the doc shows them:
// the message, padded, then the chosen fields as key=value.
func renderSample(t *testing.T, log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		msg, _ := l["msg"].(string)
		keys, ok := sampleFields[msg]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%-30s", msg)
		for _, k := range keys {
			v := sampleValue(t, l[k])
			if secs, ok := l[k].(float64); ok && durationFields[k] {
				v = time.Duration(secs * float64(time.Second)).Round(time.Microsecond).String()
			}
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sampleValue(t *testing.T, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprintf("%q", e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case nil:
		return "[]"
	}
	t.Fatalf("a field of %T in the sample", v)
	return ""
}
