package flagon

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed means the store (or notifier) was closed.
var ErrClosed = errors.New("closed")

// A Notifier tells a store's watchers of new revisions: Store
// implementations keep one, implement Watch with Add, and call Notify
// after each commit. Each watcher has its own goroutine, so a slow
// watcher delays no writer and no other watcher, and a burst of revisions
// reaches it as one call with the latest. Revisions at or below the
// highest seen are dropped, so a change that arrives both from this
// process and from a database's notification is told once. The zero
// Notifier is ready to use.
type Notifier struct {
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

// Add calls fn with each new revision until ctx is done or the notifier
// is closed. It fails with ErrClosed after Close.
func (n *Notifier) Add(ctx context.Context, fn func(revision int64)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.watchers == nil {
		n.watchers = make(map[*watcher]struct{})
	}
	w := &watcher{kick: make(chan struct{}, 1), stop: make(chan struct{})}
	n.watchers[w] = struct{}{}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.remove(w)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			case <-w.kick:
				n.mu.Lock()
				rev := n.rev
				n.mu.Unlock()
				fn(rev)
			}
		}
	}()
	return nil
}

func (n *Notifier) remove(w *watcher) {
	n.mu.Lock()
	delete(n.watchers, w)
	n.mu.Unlock()
}

// Notify tells every watcher of rev, unless a revision as high was told
// before.
func (n *Notifier) Notify(rev int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rev <= n.rev || n.closed {
		return
	}
	n.rev = rev
	for w := range n.watchers {
		select {
		case w.kick <- struct{}{}:
		default: // a call is already pending; it will read the latest
		}
	}
}

// Seen records rev as known without telling anyone, so that a later
// Notify of it is dropped. Stores call it with the revision at open.
func (n *Notifier) Seen(rev int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rev > n.rev {
		n.rev = rev
	}
}

// Watching reports whether anyone watches.
func (n *Notifier) Watching() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.watchers) > 0
}

// Close stops every watcher and waits for calls in progress to return.
// Later Adds fail with ErrClosed.
func (n *Notifier) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	for w := range n.watchers {
		close(w.stop)
	}
	n.mu.Unlock()
	n.wg.Wait()
}
