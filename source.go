package flagon

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A Source delivers snapshots of flag definitions: a config file, a
// database, a remote Flagon server, a vendor's SDK. Snapshots are
// immutable; a source replaces the current one whole, and readers never
// block.
type Source interface {
	// Snapshot returns the current snapshot, or nil before the first one.
	// It must not block or do I/O.
	Snapshot() *Snapshot
	// Subscribe arranges for fn to be called with each snapshot that
	// replaces the current one, until the returned function is called.
	// Calls for one subscriber do not overlap.
	Subscribe(fn func(*Snapshot)) (unsubscribe func())
}

// Status describes the health of a source's data.
type Status struct {
	// Stale is true when the source could not refresh its data and is
	// serving the last good snapshot.
	Stale bool
	// Since is when the source last succeeded in reading its data.
	Since time.Time
	// Err is the most recent error, if the source is stale.
	Err error
}

// A StatusSource is a Source that can say whether its snapshot is stale.
// Clients, /healthz and OpenFeature providers ask it.
type StatusSource interface {
	Source
	Status() Status
}

// Publisher holds a current snapshot and notifies subscribers of new ones.
// Source implementations embed it and call Publish. Its zero value is ready
// to use.
type Publisher struct {
	cur    atomic.Pointer[Snapshot]
	mu     sync.Mutex
	nextID int
	subs   map[int]func(*Snapshot)
	pubMu  sync.Mutex // serializes Publish, so subscriber calls do not overlap
	status atomic.Pointer[Status]
}

// Snapshot returns the current snapshot.
func (p *Publisher) Snapshot() *Snapshot { return p.cur.Load() }

// Subscribe implements Source.
func (p *Publisher) Subscribe(fn func(*Snapshot)) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.subs == nil {
		p.subs = make(map[int]func(*Snapshot))
	}
	id := p.nextID
	p.nextID++
	p.subs[id] = fn
	return func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// Publish makes s the current snapshot, marks the source fresh, and calls
// each subscriber with s.
func (p *Publisher) Publish(s *Snapshot) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.cur.Store(s)
	p.status.Store(&Status{Since: time.Now()})
	p.mu.Lock()
	fns := make([]func(*Snapshot), 0, len(p.subs))
	for _, fn := range p.subs {
		fns = append(fns, fn)
	}
	p.mu.Unlock()
	for _, fn := range fns {
		fn(s)
	}
}

// SetStale records that the source failed to refresh with err; the current
// snapshot keeps serving. A later Publish clears it.
func (p *Publisher) SetStale(err error) {
	st := Status{Stale: true, Err: err}
	if old := p.status.Load(); old != nil {
		st.Since = old.Since
	}
	p.status.Store(&st)
}

// Status implements StatusSource.
func (p *Publisher) Status() Status {
	if st := p.status.Load(); st != nil {
		return *st
	}
	return Status{}
}

// MemorySource is a Source held in memory and replaced by Set. Tests, the
// test kit and programs that build flags in code use it.
type MemorySource struct {
	Publisher
	env string
}

var _ StatusSource = (*MemorySource)(nil)

// NewMemorySource returns a source that serves defs in environment env (""
// for the flags' own settings). It fails if defs are invalid.
func NewMemorySource(defs Definitions, env string) (*MemorySource, error) {
	m := &MemorySource{env: env}
	if err := m.Set(defs); err != nil {
		return nil, err
	}
	return m, nil
}

// Set replaces the source's definitions. Invalid definitions are rejected
// whole, and the current snapshot keeps serving.
func (m *MemorySource) Set(defs Definitions) error {
	s, err := NewSnapshot(defs, SnapshotOptions{Environment: m.env})
	if err != nil {
		return err
	}
	m.Publish(s)
	return nil
}

// WaitFor returns the first snapshot from src for which ok returns true,
// or ctx's error. Tests use it to wait for a reload.
func WaitFor(ctx context.Context, src Source, ok func(*Snapshot) bool) (*Snapshot, error) {
	ch := make(chan *Snapshot, 1)
	unsub := src.Subscribe(func(s *Snapshot) {
		if ok(s) {
			select {
			case ch <- s:
			default:
			}
		}
	})
	defer unsub()
	if s := src.Snapshot(); s != nil && ok(s) {
		return s, nil
	}
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
