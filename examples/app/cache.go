package main

import (
	"context"
	"sync"

	"github.com/fxtools/background/fxshutdown"
)

// maxCacheEntries bounds the cache; past it, entries are dropped at random.
const maxCacheEntries = 10_000

// Cache keeps recent answers in process. It is a read-through cache in front
// of the pool: built after the pool, it stops before it.
type Cache struct {
	pool   *Pool
	mu     sync.Mutex
	data   map[string]string
	closed bool
}

// NewCache registers the "cache" shutdown step.
func NewCache(sd *fxshutdown.Shutdown, pool *Pool) *Cache {
	c := &Cache{pool: pool, data: map[string]string{}}
	sd.Add("cache", func(context.Context) error { c.Close(); return nil })
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
	if len(c.data) >= maxCacheEntries {
		for k := range c.data {
			delete(c.data, k)
			break
		}
	}
	c.data[prompt] = answer
	return nil
}

// Close empties the cache and refuses later writes.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed, c.data = true, nil
}

type cacheError string

func (e cacheError) Error() string { return string(e) }

const errCacheClosed = cacheError("cache is closed")
