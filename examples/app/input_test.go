package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileModels are model names a client can send that a database cannot
// store as they came, or that no one should: each is refused with 400.
var hostileModels = map[string]string{
	"NUL":             `"m\u0000x"`,
	"control":         `"m\u0007x"`,
	"invalid UTF-8":   "\"m\xffx\"", // the decoder makes it U+FFFD: storable, so accepted
	"a megabyte":      `"` + strings.Repeat("m", 900_000) + `"`,
	"just over 256 B": `"` + strings.Repeat("m", 257) + `"`,
}

// One hostile request cannot lose other clients' rows: hostile model names
// are refused (400) before anything is accepted, and every request answered
// 200 has its row — on SQLite, and on Postgres, whose text type refuses NUL
// and invalid UTF-8 (one such row used to fail its whole batch: 1,703
// answered requests without a row in the attack, and "lost 0").
func TestHostileInputCannotLoseOtherRows(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, dbFlags(t, name)...)
			ok := 0
			for i := 0; i < 50; i++ {
				for kind, model := range hostileModels {
					body := fmt.Sprintf(`{"model":%s,"messages":[{"role":"user","content":"hi %d"}]}`, model, i)
					rec := s.do(t, http.MethodPost, "/v1/chat/completions", body)
					want := http.StatusBadRequest
					if kind == "invalid UTF-8" {
						want = http.StatusOK
					}
					require.Equal(t, want, rec.Code, "%s: %s", kind, rec.Body.String()[:min(rec.Body.Len(), 200)])
					if rec.Code == http.StatusOK {
						ok++
					}
				}
				rec := s.do(t, http.MethodPost, "/v1/chat/completions", fmt.Sprintf(`{"model":"m1","messages":[{"role":"user","content":"ok %d"}]}`, i))
				require.Equal(t, http.StatusOK, rec.Code)
				ok++
			}
			assert.Equal(t, ok, s.rows(t, "model_usage"), "every 200 has its row")
			assert.Zero(t, s.w.Usage.Stats().Failed)
		})
	}
}

// Trace stream lines and spans that cannot be stored are refused with
// the line or span that is wrong; every accepted event is stored.
func TestHostileTracesAreRefused(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, dbFlags(t, name)...)
			good := "{\"type\":\"span_event\",\"v\":1}\n"
			for what, line := range map[string]string{
				"invalid UTF-8":       "{\"type\":\"span_event\",\"v\":\"\xff\"}\n",
				"over 64 KiB":         `{"type":"span_event","v":"` + strings.Repeat("v", 70_000) + "\"}\n",
				"escaped NUL is fine": `{"type":"span_event","v":"\u0000"}` + "\n",
			} {
				rec := s.do(t, http.MethodPost, "/v1/traces/stream", good+line+good)
				if what == "escaped NUL is fine" {
					assert.Equal(t, http.StatusAccepted, rec.Code, what)
					continue
				}
				assert.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, rec.Code, what)
				assert.Contains(t, rec.Body.String(), "line 2", what)
			}
			for what, span := range map[string]string{
				"NUL in name":            `{"trace_id":"t","span_id":"s","name":"a\u0000b"}`,
				"invalid UTF-8 in attrs": "{\"trace_id\":\"t\",\"span_id\":\"s\",\"name\":\"n\",\"attributes\":{\"k\":\"\xff\"}}",
				"long trace id":          `{"trace_id":"` + strings.Repeat("t", 200) + `","span_id":"s","name":"n"}`,
			} {
				rec := s.do(t, http.MethodPost, "/v1/traces", `{"spans":[`+span+`]}`)
				assert.Equal(t, http.StatusBadRequest, rec.Code, what)
				assert.Contains(t, rec.Body.String(), "spans[0]", what)
			}
			rec := s.do(t, http.MethodPost, "/v1/traces", `{"spans":[{"trace_id":"t","span_id":"s","name":"n","attributes":{"k":"\u0000"}}]}`)
			require.Equal(t, http.StatusAccepted, rec.Code)
			assert.Equal(t, 3, s.rows(t, "stream_events"))
			assert.Equal(t, 1, s.rows(t, "spans"))
		})
	}
}

// A flood of large bodies is refused with 503 beyond the body budget, not
// read into memory all together.
func TestBodyBudgetRefusesLargeBodiesBeyondIt(t *testing.T) {
	b := &bodyBudget{max: 3 << 20}
	big := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 1<<20)))
		return r
	}
	var gives []func()
	for i := 0; i < 3; i++ {
		give := b.take(big())
		require.NotNil(t, give)
		gives = append(gives, give)
	}
	assert.Nil(t, b.take(big()), "the budget is spent")
	small, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	assert.NotNil(t, b.take(small), "small bodies never wait for it")
	gives[0]()
	assert.NotNil(t, b.take(big()))
}

// dbFlags are the flags for a test database of kind name: SQLite (the
// default), or a new Postgres database (skipped, visibly, without
// FXASYNC_POSTGRES_URL outside CI).
func dbFlags(t *testing.T, name string) []string {
	if name == "postgres" {
		return []string{"-db", postgresDB(t)}
	}
	return nil
}
