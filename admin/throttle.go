package admin

import (
	"container/list"
	"sync"
	"time"
)

// Sign-in throttling. Failures are counted per account and per client
// address; the first freeFailures of each cost nothing, and each further
// one locks that account or client for a wait that doubles, from
// firstLock up to maxLock. A success clears both. While either is locked
// the sign-in is refused without looking at the password, so that a
// lockout cannot be used to test passwords; once the wait is over, the
// right password works. Counts are forgotten after forgetAfter without a
// failure. At most maxThrottled accounts and clients are remembered; when
// full, the one idle longest is forgotten, so no flood of addresses resets
// the others.
const (
	freeFailures = 5
	firstLock    = time.Second
	maxLock      = 15 * time.Minute
	forgetAfter  = time.Hour
	maxThrottled = 10000
)

// throttle counts sign-in failures. Its zero value is not ready: use
// newThrottle.
type throttle struct {
	mu      sync.Mutex
	byKey   map[string]*list.Element // of *strikes
	recency *list.List               // front: most recently failed
}

type strikes struct {
	key    string
	fails  int
	last   time.Time // the last failure
	lockTo time.Time // refused until then
}

func newThrottle() *throttle {
	return &throttle{byKey: make(map[string]*list.Element), recency: list.New()}
}

// wait returns how long the sign-in of account from client must wait,
// zero if it may go ahead now.
func (t *throttle) wait(account, client string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range [2]string{"account " + account, "client " + client} {
		if s := t.get(k, now); s != nil && now.Before(s.lockTo) {
			d = max(d, s.lockTo.Sub(now))
		}
	}
	return d
}

// fail records a failed sign-in.
func (t *throttle) fail(account, client string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range [2]string{"account " + account, "client " + client} {
		s := t.get(k, now)
		if s == nil {
			for len(t.byKey) >= maxThrottled {
				oldest := t.recency.Back()
				t.recency.Remove(oldest)
				delete(t.byKey, oldest.Value.(*strikes).key)
			}
			s = &strikes{key: k}
			t.byKey[k] = t.recency.PushFront(s)
		} else {
			t.recency.MoveToFront(t.byKey[k])
		}
		s.fails++
		s.last = now
		if n := s.fails - freeFailures; n > 0 {
			wait := maxLock
			if n < 20 && firstLock<<(n-1) < maxLock {
				wait = firstLock << (n - 1)
			}
			s.lockTo = now.Add(wait)
		}
	}
}

// succeed forgets the failures of account and client.
func (t *throttle) succeed(account, client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range [2]string{"account " + account, "client " + client} {
		if e, ok := t.byKey[k]; ok {
			t.recency.Remove(e)
			delete(t.byKey, k)
		}
	}
}

// get returns the strikes of k, forgetting them if they are stale. t.mu
// is held.
func (t *throttle) get(k string, now time.Time) *strikes {
	e, ok := t.byKey[k]
	if !ok {
		return nil
	}
	s := e.Value.(*strikes)
	if now.Sub(s.last) > forgetAfter && !now.Before(s.lockTo) {
		t.recency.Remove(e)
		delete(t.byKey, k)
		return nil
	}
	return s
}

// size returns how many accounts and clients are remembered.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}
