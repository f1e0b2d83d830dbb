package fxasyncotel

// This file holds how a task's error becomes a span's status message. It
// is a small copy of what the root module's internal/logx does, kept
// deliberately: modules share no internal package.

import (
	"fmt"
	"strings"
)

// maxRendered bounds a status message, in bytes.
const maxRendered = 1 << 10

// render is err.Error(), called on a goroutine of its own: valid UTF-8, at
// most maxRendered bytes and a note of the rest, and never a panic or a
// runtime.Goexit on the task's goroutine, whatever Error does.
func render(err error) string {
	s := fmt.Sprintf("(%T value: rendering it called runtime.Goexit)", err) // %T calls no method
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if recover() != nil {
				s = fmt.Sprintf("(%T value: rendering it panicked)", err)
			}
		}()
		s = err.Error()
	}()
	<-done
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxRendered {
		return s
	}
	cut := maxRendered
	for cut > 0 && s[cut]&0xC0 == 0x80 { // back to a rune boundary
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}
