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
// %v, any of which may panic; then it falls back to the value's type, which
// calls no method at all. The result is valid UTF-8 and at most about
// MaxValueBytes long.
func Value(v any) string {
	if v == nil {
		return "nil"
	}
	s, ok := try(func() string {
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
	if !ok {
		s = "(" + typeName(v) + " value: rendering it panicked)"
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
	v, ok := try(func() string { return fmt.Sprintf("%+v", err) })
	if !ok || v == msg {
		return msg, ""
	}
	return msg, clip(v)
}

// try calls f and reports false if it panicked.
func try(f func() string) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(), true
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
