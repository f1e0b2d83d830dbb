package main

import (
	"context"
	"sync"
	"time"

	"github.com/fxtools/background/fxshutdown"
)

// The cache is bounded by entries and by bytes (prompt and answer); past
// either bound, entries are dropped at random.
const (
	maxCacheEntries = 10_000
	maxCacheBytes   = 32 << 20
)

// Cache keeps recent answers in process. It is a read-through cache in front
// of the pool: built after the pool, it stops before it.
type Cache struct {
	pool   *Pool
	mu     sync.Mutex
	data   map[string]string
	bytes  int
	closed bool
}

// NewCache registers the "cache" shutdown step.
func NewCache(sd *fxshutdown.Shutdown, pool *Pool) *Cache {
	c := &Cache{pool: pool, data: map[string]string{}}
	sd.Add(fxshutdown.Step{Name: "cache", Run: func(context.Context) error { c.Close(); return nil }, Timeout: time.Second})
	return c
}

// Answer returns the cached answer for prompt, or asks the pool; hit says
// which.
func (c *Cache) Answer(ctx context.Context, prompt string) (answer string, hit bool, err error) {
	c.mu.Lock()
	answer, hit = c.data[prompt]
	c.mu.Unlock()
	if hit {
		return answer, true, nil
	}
	answer, err = c.pool.Complete(ctx, prompt)
	return answer, false, err
}

// Set stores an answer. After Close it fails, as a remote cache would.
func (c *Cache) Set(prompt, answer string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errCacheClosed
	}
	size := len(prompt) + len(answer)
	if size > maxCacheBytes/16 {
		return nil // too large to be worth a place
	}
	if old, ok := c.data[prompt]; ok {
		c.bytes -= len(prompt) + len(old)
		delete(c.data, prompt)
	}
	for k, v := range c.data {
		if len(c.data) < maxCacheEntries && c.bytes+size <= maxCacheBytes {
			break
		}
		c.bytes -= len(k) + len(v)
		delete(c.data, k)
	}
	c.data[prompt] = answer
	c.bytes += size
	return nil
}

// Close empties the cache and refuses later writes.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed, c.data, c.bytes = true, nil, 0
}

type cacheError string

func (e cacheError) Error() string { return string(e) }

const errCacheClosed = cacheError("cache is closed")
