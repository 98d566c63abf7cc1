package flagon_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// fakeStore is the part of a Store that a StoreSource uses: Load,
// Revision and Watch. Set replaces its definitions at the next revision;
// SetErr makes Load and Revision fail; a gate holds Load.
type fakeStore struct {
	flagon.Store // the methods a StoreSource does not call; nil

	mu       sync.Mutex
	defs     flagon.Definitions
	rev      int64
	err      error
	loads    int
	gate     chan struct{} // if set, Load waits for it to close
	entered  chan struct{} // if set, Load signals entry
	watchers []func(int64)
	watchCtx context.Context
}

func newFakeStore(defs flagon.Definitions) *fakeStore { return &fakeStore{defs: defs, rev: 1} }

func (f *fakeStore) Load(ctx context.Context) (flagon.Definitions, int64, error) {
	f.mu.Lock()
	gate, entered := f.gate, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return flagon.Definitions{}, 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.err != nil {
		return flagon.Definitions{}, 0, f.err
	}
	return f.defs, f.rev, nil
}

func (f *fakeStore) Revision(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev, f.err
}

func (f *fakeStore) Watch(ctx context.Context, fn func(int64)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchers = append(f.watchers, fn)
	f.watchCtx = ctx
	return nil
}

// set replaces the definitions (the same ones, when defs is nil) at the
// next revision and tells the watchers.
func (f *fakeStore) set(defs *flagon.Definitions) int64 {
	f.mu.Lock()
	if defs != nil {
		f.defs = *defs
	}
	f.rev++
	rev, ws := f.rev, f.watchers
	f.mu.Unlock()
	for _, fn := range ws {
		fn(rev)
	}
	return rev
}

func (f *fakeStore) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeStore) loadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

func checkoutDefs(def string) flagon.Definitions {
	beta := "beta"
	return flagon.Definitions{Flags: []flagon.Flag{{
		Key:          "checkout",
		Type:         flagon.TypeString,
		Variants:     []flagon.Variant{{Name: "old", Value: "old"}, {Name: "new", Value: "new"}, {Name: "beta", Value: "beta"}},
		Default:      def,
		Environments: map[string]flagon.EnvSettings{"staging": {Default: &beta}},
	}}}
}

func newStoreSource(t *testing.T, store flagon.Store, opts *flagon.StoreSourceOptions) *flagon.StoreSource {
	t.Helper()
	if opts == nil {
		opts = &flagon.StoreSourceOptions{}
	}
	opts.Logger = discardLogger
	src, err := flagon.NewStoreSource(t.Context(), store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// waitRevision waits for src to publish the given store revision.
func waitRevision(t *testing.T, src flagon.Source, rev int64) *flagon.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	want := strconv.FormatInt(rev, 10)
	s, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Revision() == want })
	if err != nil {
		t.Fatalf("waiting for revision %s: %v (at %s)", want, err, src.Snapshot().Revision())
	}
	return s
}

// waitStoreSource polls cond, which watches a background goroutine's work,
// until it holds or ten seconds pass.
func waitStoreSource(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStoreSourceLoads(t *testing.T) {
	for _, tt := range []struct{ env, want string }{
		{"", "old"},
		{"production", "old"},
		{"staging", "beta"},
	} {
		src := newStoreSource(t, newFakeStore(checkoutDefs("old")), &flagon.StoreSourceOptions{Environment: tt.env})
		s := src.Snapshot()
		if s == nil || s.Revision() != "1" || s.Environment() != tt.env {
			t.Fatalf("env %q: first snapshot %v", tt.env, s)
		}
		c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
		if got := c.String(context.Background(), "checkout", "?"); got != tt.want {
			t.Errorf("env %q: checkout = %q, want %q", tt.env, got, tt.want)
		}
		if st := src.Status(); st.Stale || st.Since.IsZero() {
			t.Errorf("env %q: status %+v, want fresh", tt.env, st)
		}
	}
}

func TestStoreSourceFollowsWrites(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src := newStoreSource(t, store, nil)
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	for i, def := range []string{"new", "old", "new"} {
		d := checkoutDefs(def)
		rev := store.set(&d)
		waitRevision(t, src, rev)
		// The client swaps the snapshot in from its own subscription.
		waitStoreSource(t, "the client serves write "+strconv.Itoa(i), func() bool {
			return c.String(context.Background(), "checkout", "?") == def
		})
	}
	if st := src.Stats(); st.Revision != 4 || st.Reloads != 4 || st.Failures != 0 {
		t.Errorf("Stats = %+v, want revision 4, 4 reloads, no failures", st)
	}
}

func TestStoreSourceCoalescesBursts(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src := newStoreSource(t, store, nil)
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	store.mu.Lock()
	store.gate, store.entered = gate, entered
	store.mu.Unlock()

	d := checkoutDefs("new")
	store.set(&d)
	<-entered // the source is loading, held at the gate
	store.mu.Lock()
	store.entered = nil
	store.mu.Unlock()
	var last int64
	for range 50 {
		last = store.set(nil)
	}
	close(gate)
	waitRevision(t, src, last)
	// One load at the start, one for the first write; the 50 writes during
	// it are already in that load's result.
	if got := store.loadCount(); got != 2 {
		t.Errorf("%d loads for a burst of 51 writes, want 2", got)
	}
}

func TestStoreSourceStale(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src := newStoreSource(t, store, &flagon.StoreSourceOptions{RetryInterval: time.Millisecond, PollInterval: time.Hour})
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	good := src.Status().Since
	first := src.Snapshot()

	down := errors.New("connection refused")
	store.setErr(down)
	store.set(nil) // a notification the source cannot act on
	waitStoreSource(t, "the source is stale", func() bool { return src.Status().Stale })
	st := src.Status()
	if !errors.Is(st.Err, down) || !st.Since.Equal(good) {
		t.Errorf("stale status = %+v, want error %v and Since %v (the last good read)", st, down, good)
	}
	if src.Snapshot() != first || c.String(context.Background(), "checkout", "?") != "old" {
		t.Error("a stale source stopped serving its last snapshot")
	}
	if src.Stats().Failures == 0 {
		t.Error("Stats counted no failure")
	}

	// The source retries by itself and recovers once the store does.
	store.setErr(nil)
	waitStoreSource(t, "the source recovers", func() bool { return !src.Status().Stale })
	if st := src.Status(); st.Err != nil || !st.Since.After(good) {
		t.Errorf("recovered status = %+v", st)
	}
	d := checkoutDefs("new")
	waitRevision(t, src, store.set(&d))
}

func TestStoreSourceKeepsSnapshotOnInvalidDefinitions(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src := newStoreSource(t, store, &flagon.StoreSourceOptions{RetryInterval: time.Hour, PollInterval: time.Hour})
	first := src.Snapshot()
	bad := checkoutDefs("missing-variant")
	store.set(&bad)
	waitStoreSource(t, "the source is stale", func() bool { return src.Status().Stale })
	if err := src.Status().Err; !errors.Is(err, flagon.ErrInvalid) {
		t.Errorf("stale error = %v, want a validation error", err)
	}
	if src.Snapshot() != first {
		t.Error("invalid definitions replaced the snapshot")
	}
	good := checkoutDefs("new")
	waitRevision(t, src, store.set(&good))
	if src.Status().Stale {
		t.Error("still stale after valid definitions")
	}
}

func TestStoreSourceSkipsUnchangedDefinitions(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src := newStoreSource(t, store, nil)
	var mu sync.Mutex
	published := 0
	defer src.Subscribe(func(*flagon.Snapshot) { mu.Lock(); published++; mu.Unlock() })()
	rev := store.set(nil) // say, a user override: the flags are as they were
	waitStoreSource(t, "the source reads the new revision", func() bool { return src.Stats().Revision == rev })
	mu.Lock()
	defer mu.Unlock()
	if published != 0 || src.Snapshot().Revision() != "1" {
		t.Errorf("unchanged definitions published %d snapshots (now at %s), want none", published, src.Snapshot().Revision())
	}
}

func TestNewStoreSourceFails(t *testing.T) {
	down := newFakeStore(checkoutDefs("old"))
	down.setErr(errors.New("connection refused"))
	invalid := newFakeStore(checkoutDefs("missing-variant"))
	for _, tt := range []struct {
		name  string
		store *fakeStore
	}{
		{"store down", down},
		{"invalid definitions", invalid},
	} {
		src, err := flagon.NewStoreSource(t.Context(), tt.store, &flagon.StoreSourceOptions{Logger: discardLogger})
		if err == nil {
			src.Close()
			t.Errorf("%s: NewStoreSource succeeded", tt.name)
			continue
		}
		if tt.store.watchCtx == nil || tt.store.watchCtx.Err() == nil {
			t.Errorf("%s: the failed source left its watch running", tt.name)
		}
	}
}

func TestStoreSourceClose(t *testing.T) {
	store := newFakeStore(checkoutDefs("old"))
	src, err := flagon.NewStoreSource(t.Context(), store, &flagon.StoreSourceOptions{Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	first := src.Snapshot()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if store.watchCtx.Err() == nil {
		t.Error("Close left the store watch running")
	}
	src.Close() // a second Close is harmless
	if src.Snapshot() != first {
		t.Error("Close dropped the snapshot")
	}
}
