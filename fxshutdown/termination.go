package fxshutdown

// This file holds the termination message: the stop's summary written where
// Kubernetes reads it, so `kubectl describe pod` shows what the stop
// drained, handed off and lost.

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// DefaultTerminationLog is Kubernetes' default terminationMessagePath.
const DefaultTerminationLog = "/dev/termination-log"

// TerminationLogEnv, when set, names the termination message's file and
// overrides Config.TerminationLog: a manifest can set it.
const TerminationLogEnv = "FXSHUTDOWN_TERMINATION_LOG"

// maxTerminationMessage is Kubernetes' limit on a termination message.
const maxTerminationMessage = 4096

// terminationPath is where the summary goes, and whether to write it when
// the file does not exist: the default path is written only where
// Kubernetes has created it; a path the user names is created.
func (s *Shutdown) terminationPath() (path string, create bool) {
	if p := os.Getenv(TerminationLogEnv); p != "" {
		return p, true
	}
	switch s.cfg.TerminationLog {
	case "":
		return DefaultTerminationLog, false
	case "-":
		return "", false
	}
	return s.cfg.TerminationLog, true
}

// writeTermination writes the summary, at most 4,096 bytes. A failure is
// logged: the stop goes on.
func (s *Shutdown) writeTermination(total time.Duration, failed, lost int, outs []Outcome) {
	path, create := s.terminationPath()
	if path == "" {
		return
	}
	flags := os.O_WRONLY | os.O_TRUNC
	if create {
		flags |= os.O_CREATE
	} else if _, err := os.Stat(path); err != nil {
		return // not in a pod
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err == nil {
		_, err = f.WriteString(terminationMessage(total, failed, lost, outs))
		err = joinClose(err, f)
	}
	if err != nil {
		s.log.Warn("termination message not written", zap.String("path", path), zap.Error(err))
	}
}

// terminationMessage is one line per step after a headline, cut at a rune
// boundary to fit Kubernetes' limit, the cut marked.
func terminationMessage(total time.Duration, failed, lost int, outs []Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "shutdown finished in %v: %d step(s) failed, lost %d\n", total.Round(time.Microsecond), failed, lost)
	for _, line := range outcomes(outs).lines() {
		b.WriteString(line + "\n")
	}
	msg := b.String()
	const cut = "…(cut)\n"
	if len(msg) <= maxTerminationMessage {
		return msg
	}
	msg = msg[:maxTerminationMessage-len(cut)]
	for !utf8.ValidString(msg) {
		msg = msg[:len(msg)-1]
	}
	return msg + cut
}

func joinClose(err error, f *os.File) error {
	if cerr := f.Close(); err == nil {
		return cerr
	}
	return err
}
