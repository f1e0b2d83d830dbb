package fxasyncriver

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

type panicky struct{}

func (panicky) Error() string { panic("Error() broke") }

func TestRenderIsBoundedAndNeverPanics(t *testing.T) {
	assert.Equal(t, "(fxasyncriver.panicky value: rendering it panicked)", render(panicky{}))
	assert.Equal(t, "a\uFFFDb", render("a\xffb"))
	long := render(strings.Repeat("é", maxRendered))
	assert.True(t, utf8.ValidString(long))
	assert.Contains(t, long, "more bytes)")
	assert.Equal(t, "<nil>", render(nil))
}
