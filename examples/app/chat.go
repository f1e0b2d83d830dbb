package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   chatUsage    `json:"usage"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (r chatRequest) validate() string {
	if strings.TrimSpace(r.Model) == "" {
		return "model is required"
	}
	if why := unstorable(r.Model, maxModelBytes); why != "" {
		return "model " + why // stored in the usage row as it came
	}
	if len(r.Messages) == 0 {
		return "messages must hold at least one message"
	}
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return fmt.Sprintf("messages[%d].role must be system, user or assistant", i)
		}
		if m.Content == "" {
			return fmt.Sprintf("messages[%d].content is required", i)
		}
	}
	return ""
}

func (r chatRequest) prompt() string {
	parts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// chat answers from the cache or the runtime pool, then logs usage and
// caches the answer in the background: the response never waits for either.
func (h *Handlers) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req chatRequest
	if !decode(w, r, &req) {
		return
	}
	if msg := req.validate(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	prompt := req.prompt()
	answer, hit, err := h.cache.Answer(r.Context(), prompt)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "runtime pool: "+err.Error())
		return
	}
	id := fmt.Sprintf("chatcmpl-%s-%d", h.boot, h.seq.Add(1))
	usage := Usage{RequestID: id, Model: req.Model, PromptTokens: tokens(prompt), CompletionTokens: tokens(answer)}
	if !hit { // best effort: a refused cache write is counted, not an error
		_ = h.cacheSet.TrySet(prompt, answer)
	}
	usage.Latency = time.Since(start)
	if err := h.logUsage(r.Context(), usage); err != nil {
		overloaded(w, "usage log: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, chatResponse{
		ID: id, Object: "chat.completion", Created: start.Unix(), Model: req.Model,
		Choices: []chatChoice{{Message: chatMessage{Role: "assistant", Content: answer}, FinishReason: "stop"}},
		Usage: chatUsage{PromptTokens: usage.PromptTokens, CompletionTokens: usage.CompletionTokens,
			TotalTokens: usage.PromptTokens + usage.CompletionTokens},
	})
}

// logUsage hands the usage row to its batcher; the request is answered 200
// only when the row was accepted. With -durable the row is first a job in
// the database (committed before the answer), with -sync-log it is written
// in the handler, with -no-usage not at all (the comparisons the README
// makes).
func (h *Handlers) logUsage(ctx context.Context, u Usage) error {
	switch {
	case h.cfg.NoUsage:
		return nil
	case h.cfg.SyncLog:
		return h.db.InsertUsage(ctx, u)
	case h.w.Durable != nil:
		return h.w.Durable.Submit(ctx, u)
	}
	return h.w.Usage.Add(ctx, u)
}
