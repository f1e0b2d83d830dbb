package fxasyncriver

// This file holds how the hand-off renders what it did not make — a panic
// value, an error of a marshaller or a driver, a kind name read from the
// table — for an error message or a log line. It is a small copy of what
// the root module's internal/logx does, kept deliberately: modules share no
// internal package.

import (
	"fmt"
	"strings"
)

// maxRendered bounds a rendered value, in bytes.
const maxRendered = 1 << 10

// render is v as text: valid UTF-8, at most maxRendered bytes and a note
// of the rest, and never a panic, whatever v's Error or String method does
// (a runtime.Goexit in one is not survived).
func render(v any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("(%T value: rendering it panicked)", v) // %T calls no method
		}
	}()
	switch x := v.(type) {
	case string:
		s = x
	case error:
		s = x.Error()
	default:
		s = fmt.Sprint(v)
	}
	return clip(s)
}

func clip(s string) string {
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
