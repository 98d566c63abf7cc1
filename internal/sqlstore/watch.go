package sqlstore

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed means the store was closed.
var ErrClosed = errors.New("store closed")

// A Hub tells watchers of new revisions. Each watcher has its own
// goroutine, so a slow watcher delays no writer and no other watcher, and
// a burst of revisions reaches it as one call with the latest. Revisions
// at or below the highest seen are dropped, so a change that arrives both
// from this process and from the database's notification is told once.
// The zero Hub is ready to use.
type Hub struct {
	mu       sync.Mutex
	rev      int64
	watchers map[*watcher]struct{}
	closed   bool
	wg       sync.WaitGroup
}

type watcher struct {
	kick chan struct{} // holds one pending call
	stop chan struct{} // closed by Close
}

// Add calls fn with each new revision until ctx is done or the hub is
// closed.
func (h *Hub) Add(ctx context.Context, fn func(revision int64)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if h.watchers == nil {
		h.watchers = make(map[*watcher]struct{})
	}
	w := &watcher{kick: make(chan struct{}, 1), stop: make(chan struct{})}
	h.watchers[w] = struct{}{}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.remove(w)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			case <-w.kick:
				h.mu.Lock()
				rev := h.rev
				h.mu.Unlock()
				fn(rev)
			}
		}
	}()
	return nil
}

func (h *Hub) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// Notify tells every watcher of rev, unless a revision as high was told
// before.
func (h *Hub) Notify(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev <= h.rev || h.closed {
		return
	}
	h.rev = rev
	for w := range h.watchers {
		select {
		case w.kick <- struct{}{}:
		default: // a call is already pending; it will read the latest
		}
	}
}

// Seen records rev as known without telling anyone, so that a later
// Notify of it is dropped. Stores call it with the revision at open.
func (h *Hub) Seen(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev > h.rev {
		h.rev = rev
	}
}

// Watching reports whether anyone watches.
func (h *Hub) Watching() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers) > 0
}

// Close stops every watcher and waits for calls in progress to return.
// Later Adds fail with ErrClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for w := range h.watchers {
		close(w.stop)
	}
	h.mu.Unlock()
	h.wg.Wait()
}
