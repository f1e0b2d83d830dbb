package logx

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// MaxValueBytes bounds a rendered value in a log line; the rest is cut and
// its length stated.
const MaxValueBytes = 8 << 10

// Value renders a panic value for a log line. It calls no marshaller
// (MarshalJSON, MarshalText, MarshalLogObject): only Error, String or fmt's
// %v, any of which may panic or call runtime.Goexit, on a goroutine of its
// own; then it falls back to the value's type, which calls no method at
// all. The result is valid UTF-8 and at most about MaxValueBytes long.
func Value(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return clip(x) // no method to call: no goroutine
	}
	s, how := try(func() string {
		switch x := v.(type) {
		case string:
			return x
		case error:
			return x.Error()
		case fmt.Stringer:
			return x.String()
		}
		return fmt.Sprintf("%v", v)
	})
	if how != "" {
		s = "(" + typeName(v) + " value: rendering it " + how + ")"
	}
	return clip(s)
}

// Error renders err like Value, and also its verbose form (%+v, as zap's
// errorVerbose) when err formats itself and that form adds something.
func Error(err error) (msg, verbose string) {
	msg = Value(err)
	if _, ok := err.(fmt.Formatter); !ok {
		return msg, ""
	}
	v, how := try(func() string { return fmt.Sprintf("%+v", err) })
	if how != "" || v == msg {
		return msg, ""
	}
	return msg, clip(v)
}

// try calls f on a goroutine of its own (see Isolated) and says how it
// failed.
func try(f func() string) (s, how string) {
	how = Isolated(func() { s = f() })
	return s, how
}

// Isolated calls f, which runs a user's method, on a goroutine of its own
// and says how it failed: "" when it returned, "panicked", or "called
// runtime.Goexit" — which, on the caller's goroutine, would end a worker in
// the middle of its report.
func Isolated(f func()) (how string) {
	done := make(chan struct{})
	go func() {
		how = "called runtime.Goexit" // unless f returns or panics
		defer close(done)
		defer func() {
			if recover() != nil {
				how = "panicked"
			}
		}()
		f()
		how = ""
	}()
	<-done
	return how
}

func typeName(v any) string { return reflect.TypeOf(v).String() }

// clip makes s valid UTF-8 and cuts it to MaxValueBytes.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxValueBytes {
		return s
	}
	cut := MaxValueBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 { // back to a rune boundary
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)-cut) + " more bytes)"
}
