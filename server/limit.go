package server

import (
	"container/list"
	"sync"
	"time"
)

// A rateLimit allows each client a burst of events and then a steady
// rate, as a token bucket per client. It remembers at most max clients;
// when full it forgets the one idle longest (whose bucket has likely
// refilled), so memory stays bounded and no flood of clients resets the
// others.
type rateLimit struct {
	burst float64
	rate  float64 // tokens per second
	max   int

	mu      sync.Mutex
	clients map[string]*list.Element // of *bucket
	recency *list.List               // front: most recent
}

type bucket struct {
	client string
	tokens float64
	at     time.Time
}

// newRateLimit allows each client a burst of n events, refilled at n per
// period.
func newRateLimit(n int, per time.Duration, max int) *rateLimit {
	return &rateLimit{
		burst: float64(n), rate: float64(n) / per.Seconds(), max: max,
		clients: make(map[string]*list.Element), recency: list.New(),
	}
}

// allow reports whether client may have one more event at now, and takes
// it if so.
func (l *rateLimit) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[client]
	if !ok {
		for len(l.clients) >= l.max {
			oldest := l.recency.Back()
			l.recency.Remove(oldest)
			delete(l.clients, oldest.Value.(*bucket).client)
		}
		e = l.recency.PushFront(&bucket{client: client, tokens: l.burst, at: now})
		l.clients[client] = e
	} else {
		l.recency.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
