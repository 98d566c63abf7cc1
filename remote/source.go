package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
)

// Defaults for the zero Options.
const (
	// DefaultPollInterval is how often the source asks the server whether
	// the flags changed.
	DefaultPollInterval = 30 * time.Second
	// DefaultRetryInterval is the first wait after a failure; each further
	// failure doubles it, up to MaxBackoff.
	DefaultRetryInterval = time.Second
	// DefaultMaxBackoff is the longest wait between retries.
	DefaultMaxBackoff = 2 * time.Minute
	// DefaultTimeout bounds each fetch of the snapshot.
	DefaultTimeout = 10 * time.Second
	// DefaultStreamIdleTimeout is how long an event stream may stay silent
	// (the server sends a comment every 25 s) before the source
	// reconnects.
	DefaultStreamIdleTimeout = 90 * time.Second
	// MaxSnapshotBytes is the largest snapshot the source accepts: 64 MiB.
	MaxSnapshotBytes = 64 << 20
)

// Options configures a remote source. The zero value polls every
// DefaultPollInterval, with no cache file.
type Options struct {
	// PollInterval is how often to ask the server for changes; zero means
	// DefaultPollInterval. With Stream, it is used only if the server has
	// no event stream.
	PollInterval time.Duration
	// Stream follows the server's event stream, so that changes arrive
	// at once, instead of polling.
	Stream bool
	// CacheFile, if set, is written after each good fetch, and read at
	// start-up when the server cannot be reached.
	CacheFile string
	// Environment selects the flags' per-environment settings; empty
	// means the server's environment.
	Environment string
	// Header holds headers to send with every request.
	Header http.Header
	// Token, if set, is sent with every request (the snapshot fetch and
	// the event stream) as "Authorization: Bearer <Token>", replacing any
	// Authorization in Header.
	Token string
	// HTTPClient makes the requests; nil means http.DefaultClient. Its
	// Timeout, if any, must be longer than StreamIdleTimeout when Stream
	// is on.
	HTTPClient *http.Client
	// Timeout bounds each fetch; zero means DefaultTimeout.
	Timeout time.Duration
	// RetryInterval is the first wait after a failure; zero means
	// DefaultRetryInterval.
	RetryInterval time.Duration
	// MaxBackoff is the longest wait between retries; zero means
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// StreamIdleTimeout: zero means DefaultStreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// Logger receives failures and recoveries. Nil means slog.Default().
	Logger *slog.Logger

	// App names the application in the usage counts the source sends to
	// the server (see ReportUsage); empty means the executable's name.
	App string
	// UsageInterval is how often usage counts are sent; zero means
	// DefaultUsageInterval, negative sends none.
	UsageInterval time.Duration
}

// Source is a flagon.StatusSource that follows a Flagon server.
type Source struct {
	flagon.Publisher
	base string
	opts Options
	hc   *http.Client
	log  *slog.Logger

	fetchMu  sync.Mutex // serializes fetches
	mu       sync.Mutex // guards cachedAt
	cachedAt time.Time  // when the cache file served at start-up was written; zero once the server answered

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	usageOnce sync.Once
	usageStop context.CancelFunc // nil until ReportUsage starts the reporter
	usageDone chan struct{}
}

var _ flagon.StatusSource = (*Source)(nil)

// New returns a source that follows the Flagon server at baseURL (such as
// "https://flags.internal"), and starts following it. ctx bounds the
// first fetch only; the source follows the server until Close.
//
// If the first fetch fails, New starts from Options.CacheFile, reporting
// the source stale until the server answers; with no usable cache file it
// returns the fetch's error. opts may be nil.
func New(ctx context.Context, baseURL string, opts *Options) (*Source, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: invalid server URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	s := &Source{base: strings.TrimSuffix(baseURL, "/"), done: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.StreamIdleTimeout <= 0 {
		o.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	s.hc = o.HTTPClient
	if s.hc == nil {
		s.hc = http.DefaultClient
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.Default()
	}

	failures := 0
	if err := s.fetch(ctx); err != nil {
		if o.CacheFile != "" {
			if cerr := s.loadCache(); cerr != nil {
				s.log.Warn("remote: ignoring the cache file", "file", o.CacheFile, "err", cerr)
				err = fmt.Errorf("%w (and the cache file: %v)", err, cerr)
			}
		}
		if s.Snapshot() == nil {
			return nil, err
		}
		s.log.Warn("remote: server unreachable; serving the cached flags", "server", s.base,
			"file", o.CacheFile, "revision", s.Snapshot().Revision(), "err", err)
		s.SetStale(err)
		failures = 1
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(loopCtx, failures)
	return s, nil
}

// Close stops following the server. The last snapshot keeps serving.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.stopUsage()
	})
	return nil
}

// Status implements flagon.StatusSource. A source that started from its
// cache file reports the time the file was written as Since until the
// server answers.
func (s *Source) Status() flagon.Status {
	st := s.Publisher.Status()
	s.mu.Lock()
	if !s.cachedAt.IsZero() {
		st.Since = s.cachedAt
	}
	s.mu.Unlock()
	return st
}

// Refresh fetches the snapshot now, and reports the source stale if that
// fails.
func (s *Source) Refresh(ctx context.Context) error {
	if err := s.fetch(ctx); err != nil {
		s.SetStale(err)
		return err
	}
	return nil
}

// run follows the server until ctx is done.
func (s *Source) run(ctx context.Context, failures int) {
	defer close(s.done)
	if s.opts.Stream && s.stream(ctx) {
		return
	}
	s.poll(ctx, failures)
}

// poll fetches every PollInterval, or sooner, with backoff, after a
// failure.
func (s *Source) poll(ctx context.Context, failures int) {
	t := time.NewTimer(s.wait(failures))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.fetch(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			s.failed(err, failures)
		} else {
			failures = 0
		}
		t.Reset(s.wait(failures))
	}
}

// wait returns how long to wait before the next fetch: the poll interval,
// give or take 10%, or the backoff after failures.
func (s *Source) wait(failures int) time.Duration {
	if failures == 0 {
		d := s.opts.PollInterval
		return d - d/10 + rand.N(d/5+1)
	}
	return backoff(s.opts.RetryInterval, s.opts.MaxBackoff, failures)
}

// backoff returns the wait after n consecutive failures: base doubled n-1
// times, at most max, with jitter between half and all of it.
func backoff(base, max time.Duration, n int) time.Duration {
	d := max
	if n-1 < 32 {
		if b := base << (n - 1); b > 0 && b < max {
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

// failed records a failed fetch.
func (s *Source) failed(err error, failures int) {
	s.SetStale(err)
	if failures == 1 || failures%10 == 0 {
		s.log.Warn("remote: cannot refresh the flags; serving the last good snapshot", "server", s.base, "failures", failures, "err", err)
	}
}

// errNoStream means the server has no event stream.
var errNoStream = errors.New("the server has no event stream")

// stream follows the server's event stream until ctx is done, and
// reports false if the server has none, so that the caller polls instead.
func (s *Source) stream(ctx context.Context) bool {
	failures := 0
	for {
		dropped, err := s.follow(ctx)
		if ctx.Err() != nil {
			return true
		}
		if errors.Is(err, errNoStream) {
			s.log.Info("remote: the server has no event stream; polling instead", "server", s.base)
			return false
		}
		if dropped {
			// The stream worked, then ended: reconnect soon, and count it
			// as a failure only if the reconnection fails.
			failures = 0
			s.log.Debug("remote: event stream ended; reconnecting", "server", s.base, "err", err)
		} else {
			failures++
			s.failed(err, failures)
		}
		t := time.NewTimer(backoff(s.opts.RetryInterval, s.opts.MaxBackoff, max(failures, 1)))
		select {
		case <-ctx.Done():
			t.Stop()
			return true
		case <-t.C:
		}
	}
}

// follow connects to the event stream, fetches the snapshot, and fetches
// again on each announced revision, until the stream or a fetch fails.
// dropped reports that the stream was established and the fetches
// succeeded until the stream itself ended.
func (s *Source) follow(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := s.newRequest(ctx, EventsPath)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("remote: connect to %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return false, errNoStream
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("remote: connect to %s: %s", req.URL, resp.Status)
	}
	// The server may have changed while the stream was down.
	if err := s.fetch(ctx); err != nil {
		return false, err
	}
	errIdle := fmt.Errorf("remote: event stream %s: silent for %v", req.URL, s.opts.StreamIdleTimeout)
	idle := time.AfterFunc(s.opts.StreamIdleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	r := bufio.NewReader(resp.Body)
	var data []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if cause := context.Cause(ctx); cause == errIdle {
				return true, errIdle
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return false, fmt.Errorf("remote: event stream %s: line too long", req.URL)
			}
			return true, fmt.Errorf("remote: event stream %s: %w", req.URL, err)
		}
		idle.Reset(s.opts.StreamIdleTimeout)
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0: // the end of an event
			if data == nil {
				continue
			}
			var ev struct {
				Revision string `json:"revision"`
			}
			err := json.Unmarshal(data, &ev)
			data = nil
			if err != nil {
				s.log.Warn("remote: ignoring a malformed event", "server", s.base, "err", err)
				continue
			}
			if cur := s.Snapshot(); cur != nil && cur.Revision() == ev.Revision && !s.Publisher.Status().Stale {
				continue
			}
			if err := s.fetch(ctx); err != nil {
				return false, err
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data[:0:0], bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
}

func (s *Source) newRequest(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	s.setHeaders(req)
	return req, nil
}

// setHeaders adds Options.Header and the token to req.
func (s *Source) setHeaders(req *http.Request) {
	for k, v := range s.opts.Header {
		req.Header[k] = v
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
}

// fetch asks the server for the snapshot, revalidating the current one,
// and publishes it if it changed (or if the source was stale).
func (s *Source) fetch(ctx context.Context) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := s.newRequest(ctx, SnapshotPath)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	cur := s.Snapshot()
	if cur != nil {
		req.Header.Set("If-None-Match", `"`+cur.Revision()+`"`)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("remote: fetch %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if cur != nil {
			s.fresh(cur)
			return nil
		}
		return fmt.Errorf("remote: fetch %s: 304 Not Modified to a request without If-None-Match", req.URL)
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("remote: fetch %s: %s: %s", req.URL, resp.Status, bytes.TrimSpace(msg))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("remote: fetch %s: reading the body: %w", req.URL, err)
	}
	if len(body) > MaxSnapshotBytes {
		return fmt.Errorf("remote: fetch %s: snapshot larger than %d bytes", req.URL, MaxSnapshotBytes)
	}
	rev := strings.Trim(strings.TrimPrefix(resp.Header.Get("ETag"), "W/"), `"`)
	env := s.opts.Environment
	if env == "" {
		env = resp.Header.Get(EnvironmentHeader)
	}
	if cur != nil && rev != "" && cur.Revision() == rev && cur.Environment() == env {
		s.fresh(cur)
		return nil
	}
	snap, err := compile(body, rev, env, time.Time{})
	if err != nil {
		return fmt.Errorf("remote: snapshot from %s: %w", req.URL, err)
	}
	s.fresh(snap)
	if s.opts.CacheFile != "" {
		if err := writeCache(s.opts.CacheFile, body, snap); err != nil {
			s.log.Warn("remote: cannot write the cache file", "file", s.opts.CacheFile, "err", err)
		}
	}
	return nil
}

// fresh publishes snap, which the server just confirmed: a new snapshot,
// or the current one when the source was stale or started from its cache.
func (s *Source) fresh(snap *flagon.Snapshot) {
	s.mu.Lock()
	fromCache := !s.cachedAt.IsZero()
	s.cachedAt = time.Time{}
	s.mu.Unlock()
	st := s.Publisher.Status()
	if snap == s.Snapshot() && !st.Stale && !fromCache {
		return
	}
	if st.Stale {
		s.log.Info("remote: flags refreshed again", "server", s.base, "revision", snap.Revision())
	}
	s.Publish(snap)
}

// compile decodes definitions and compiles them into a snapshot.
func compile(body []byte, rev, env string, created time.Time) (*flagon.Snapshot, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var defs flagon.Definitions
	if err := d.Decode(&defs); err != nil {
		return nil, fmt.Errorf("decoding the definitions: %w", err)
	}
	fixNumbers(&defs)
	return flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: env, Revision: rev, Created: created})
}

// fixNumbers turns the json.Numbers that decoding left in defs into the Go
// numbers a flag of each type holds: int64 for the values of int flags
// (exact past 2^53), float64 everywhere else, as encoding/json would.
func fixNumbers(defs *flagon.Definitions) {
	for i := range defs.Audiences {
		fixClauses(defs.Audiences[i].Clauses)
	}
	for i := range defs.Flags {
		f := &defs.Flags[i]
		for j := range f.Variants {
			v := &f.Variants[j]
			if n, ok := v.Value.(json.Number); ok && f.Type == flagon.TypeInt {
				if x, err := n.Int64(); err == nil {
					v.Value = x
					continue
				}
			}
			v.Value = floats(v.Value)
		}
		fixRules(f.Rules)
		for _, e := range f.Environments {
			if e.Rules != nil {
				fixRules(*e.Rules)
			}
		}
	}
}

func fixRules(rules []flagon.Rule) {
	for i := range rules {
		fixClauses(rules[i].Clauses)
	}
}

func fixClauses(cs []flagon.Clause) {
	for i := range cs {
		for j, v := range cs[i].Values {
			cs[i].Values[j] = floats(v)
		}
	}
}

// floats replaces json.Numbers in v with float64s.
func floats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = floats(e)
		}
	case []any:
		for i, e := range x {
			x[i] = floats(e)
		}
	}
	return v
}
