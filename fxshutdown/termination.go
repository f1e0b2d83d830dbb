package fxshutdown

// This file holds the termination message: the stop's summary written where
// Kubernetes reads it, so `kubectl describe pod` shows what the stop
// drained, handed off and lost.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fxtools/background/internal/logx"
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

// terminationWriteBound is the longest the stop waits for the termination
// message to be written: a file on a hung mount must not hold up the exit.
const terminationWriteBound = time.Second

// writeTermination writes msg, within terminationWriteBound and ctx's
// deadline, outside any lock. Only a regular file is written, opened
// without blocking (a FIFO with no reader would block the stop forever); a
// failure is logged and the stop goes on.
func (s *Shutdown) writeTermination(ctx context.Context, msg string) {
	path, create := s.terminationPath()
	if path == "" {
		return
	}
	bound := terminationWriteBound
	if dl, ok := ctx.Deadline(); ok {
		bound = max(min(bound, time.Until(dl)), 10*time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- writeRegular(path, create, msg) }()
	t := time.NewTimer(bound)
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("not written within %v", bound)
	}
	if err != nil && !errors.Is(err, errNotInPod) {
		s.log.Warn("termination message not written", zap.String("path", logx.Value(path)), zap.String("error", logx.Value(err)))
	}
}

// errNotInPod: the default path does not exist, so this is not a pod.
var errNotInPod = errors.New("no termination log: not in a pod")

// writeRegular writes msg to path if it is a regular file, or creates it
// when create is set and nothing is there.
func writeRegular(path string, create bool, msg string) error {
	flags := os.O_WRONLY | os.O_TRUNC | syscall.O_NONBLOCK
	switch fi, err := os.Stat(path); {
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	case os.IsNotExist(err) && !create:
		return errNotInPod
	case os.IsNotExist(err):
		flags |= os.O_CREATE | os.O_EXCL
	case err != nil:
		return err
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() { // replaced since the check
		_ = f.Close()
		return fmt.Errorf("not a regular file")
	}
	_, err = f.WriteString(msg)
	return joinClose(err, f)
}

// terminationMessage is one line per step after a headline, made valid
// UTF-8, then cut at a rune boundary to fit Kubernetes' limit, the cut
// marked.
func terminationMessage(total time.Duration, failed, lost int, outs []Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "shutdown finished in %v: %d step(s) failed, lost %d\n", total.Round(time.Microsecond), failed, lost)
	for _, line := range outcomes(outs).lines() {
		b.WriteString(line + "\n")
	}
	msg := strings.ToValidUTF8(b.String(), "\uFFFD")
	const cut = "…(cut)\n"
	if len(msg) <= maxTerminationMessage {
		return msg
	}
	end := maxTerminationMessage - len(cut)
	for end > 0 && !utf8.RuneStart(msg[end]) {
		end--
	}
	return msg[:end] + cut
}

func joinClose(err error, f *os.File) error {
	if cerr := f.Close(); err == nil {
		return cerr
	}
	return err
}
