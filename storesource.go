package flagon

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultStorePollInterval is how often a StoreSource asks its store for
// the revision, in case a change notification was lost, and so finds out
// within that time that the store is unreachable.
const DefaultStorePollInterval = 10 * time.Second

// DefaultStoreRetryInterval is how long a StoreSource waits before it
// retries a failed load; the wait doubles with each failure, up to the
// poll interval.
const DefaultStoreRetryInterval = time.Second

// DefaultStoreLoadTimeout bounds each load from the store.
const DefaultStoreLoadTimeout = 10 * time.Second

// StoreSourceOptions configures a StoreSource. The zero value is a valid
// configuration: the flags' own settings, polled every
// DefaultStorePollInterval.
type StoreSourceOptions struct {
	// Environment selects each flag's per-environment settings; empty
	// means the flags' own settings.
	Environment string
	// PollInterval is how often the source checks the store's revision
	// besides following its notifications; zero means
	// DefaultStorePollInterval.
	PollInterval time.Duration
	// RetryInterval is the first wait before retrying a failed load;
	// zero means DefaultStoreRetryInterval.
	RetryInterval time.Duration
	// LoadTimeout bounds each load; zero means DefaultStoreLoadTimeout.
	LoadTimeout time.Duration
	// Logger receives failures and recoveries; nil means slog.Default().
	Logger *slog.Logger
}

// A StoreSource is the Source of a Store: it loads the store's live flags
// into a snapshot for one environment, and reloads when the store reports
// a write (bursts of writes cost one reload) and at each poll interval.
//
// When the store fails, the source keeps serving its last good snapshot
// and reports itself stale, with the error and the time of its last
// successful read, until a later attempt succeeds. Writes that leave the
// flags and audiences as they were (user overrides, share links) replace
// no snapshot.
type StoreSource struct {
	Publisher
	store   Store
	env     string
	poll    time.Duration
	retry   time.Duration
	timeout time.Duration
	log     *slog.Logger

	kick     chan struct{} // one pending reload
	notified atomic.Int64  // highest revision the store reported
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	status   Status
	rev      int64    // the store revision last read successfully
	hash     [32]byte // of the definitions in the current snapshot
	reloads  int64
	failures int64
	failRun  int // consecutive failures
}

var _ StatusSource = (*StoreSource)(nil)

// StoreSourceStats counts what a StoreSource did, for metrics.
type StoreSourceStats struct {
	Revision int64 // the store revision last read successfully
	Reloads  int64 // snapshots published, the first included
	Failures int64 // failed loads and revision checks
}

// NewStoreSource loads store's flags and returns a source that follows the
// store until Close. ctx bounds the first load only. It fails if the first
// load fails or the store's definitions are invalid.
func NewStoreSource(ctx context.Context, store Store, opts *StoreSourceOptions) (*StoreSource, error) {
	if opts == nil {
		opts = &StoreSourceOptions{}
	}
	s := &StoreSource{
		store:   store,
		env:     opts.Environment,
		poll:    opts.PollInterval,
		retry:   opts.RetryInterval,
		timeout: opts.LoadTimeout,
		log:     opts.Logger,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if s.poll <= 0 {
		s.poll = DefaultStorePollInterval
	}
	if s.retry <= 0 {
		s.retry = DefaultStoreRetryInterval
	}
	if s.retry > s.poll {
		s.retry = s.poll
	}
	if s.timeout <= 0 {
		s.timeout = DefaultStoreLoadTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	// Watch before the first load, so that no write falls between them.
	if err := store.Watch(bg, s.notify); err != nil {
		cancel()
		return nil, fmt.Errorf("store source: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("store source: %w", err)
	}
	go s.run(bg)
	return s, nil
}

// notify is the store's Watch callback.
func (s *StoreSource) notify(rev int64) {
	for {
		old := s.notified.Load()
		if rev <= old || s.notified.CompareAndSwap(old, rev) {
			break
		}
	}
	select {
	case s.kick <- struct{}{}:
	default: // a reload is pending already; it will read the latest
	}
}

// run reloads on notifications and checks the revision on a timer, until
// ctx is done.
func (s *StoreSource) run(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(s.poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			s.mu.Lock()
			current := s.notified.Load() <= s.rev && !s.status.Stale
			s.mu.Unlock()
			if current {
				continue
			}
			s.reload(ctx)
		case <-timer.C:
			s.check(ctx)
		}
		timer.Reset(s.nextWait())
	}
}

// nextWait returns how long to wait before the next check: the poll
// interval, or while stale a retry interval that doubles per failure.
func (s *StoreSource) nextWait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRun == 0 {
		return s.poll
	}
	d := s.retry
	for i := 1; i < s.failRun && d < s.poll; i++ {
		d *= 2
	}
	return min(d, s.poll)
}

// check asks the store for its revision and reloads if it moved.
func (s *StoreSource) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rev, err := s.store.Revision(ctx)
	if err != nil {
		s.fail(err)
		return
	}
	s.mu.Lock()
	same := rev == s.rev && !s.status.Stale
	s.mu.Unlock()
	if !same {
		s.reload(ctx)
		return
	}
	s.succeed(rev)
}

// reload loads the store and publishes a snapshot if the definitions
// changed.
func (s *StoreSource) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	defs, rev, err := s.store.Load(ctx)
	if err != nil {
		s.fail(err)
		return err
	}
	var hash [32]byte
	if b, err := json.Marshal(defs); err == nil {
		hash = sha256.Sum256(b)
	}
	s.mu.Lock()
	same := s.Snapshot() != nil && hash == s.hash && hash != [32]byte{}
	s.mu.Unlock()
	if same {
		s.succeed(rev)
		return nil
	}
	snap, err := NewSnapshot(defs, SnapshotOptions{Environment: s.env, Revision: strconv.FormatInt(rev, 10)})
	if err != nil {
		err = fmt.Errorf("store revision %d: %w", rev, err)
		s.fail(err)
		return err
	}
	s.mu.Lock()
	s.hash = hash
	s.reloads++
	s.mu.Unlock()
	s.succeed(rev)
	s.Publish(snap)
	return nil
}

// succeed records a successful read of the store at rev.
func (s *StoreSource) succeed(rev int64) {
	s.mu.Lock()
	wasStale, lastErr := s.status.Stale, s.status.Err
	s.rev = rev
	s.failRun = 0
	s.status = Status{Since: time.Now()}
	s.mu.Unlock()
	if wasStale {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "flagon: store source recovered",
			slog.Int64("revision", rev), slog.Any("previous_error", lastErr))
	}
}

// fail records a failed read: the source goes on serving its snapshot,
// and reports itself stale.
func (s *StoreSource) fail(err error) {
	s.mu.Lock()
	wasStale := s.status.Stale
	s.status.Stale, s.status.Err = true, err
	s.failures++
	s.failRun++
	since := s.status.Since
	s.mu.Unlock()
	s.Publisher.SetStale(err)
	level := slog.LevelDebug
	if !wasStale {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "flagon: store source stale; serving the last snapshot",
		slog.Any("error", err), slog.Time("since", since), slog.String("environment", s.env))
}

// Status implements StatusSource. Since is the time of the last
// successful read of the store, whether or not it changed the snapshot,
// so time.Since(st.Since) is the age of the data a stale source serves.
func (s *StoreSource) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Stats returns the source's counters.
func (s *StoreSource) Stats() StoreSourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StoreSourceStats{Revision: s.rev, Reloads: s.reloads, Failures: s.failures}
}

// Close stops following the store. The last snapshot keeps serving. It
// does not close the store.
func (s *StoreSource) Close() error {
	s.stopOnce.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}
