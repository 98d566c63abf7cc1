package ofprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/flagon/flagon"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// SourceOptions configures a Source. The zero value is a valid
// configuration.
type SourceOptions struct {
	// Environment selects the definitions' per-environment settings.
	Environment string
	// Logger receives the vendor's state changes and evaluation errors
	// (at debug level). Nil means slog.Default().
	Logger *slog.Logger
}

// Source puts a vendor's OpenFeature provider (LaunchDarkly, Optimizely,
// ConfigCat, flagd, …) behind Flagon: Flagon's definitions say which flags
// exist, their types, descriptions, defaults and override policies, and
// the vendor decides their values per request.
//
// Evaluation stays pure: the Source publishes ordinary snapshots compiled
// from the definitions, and the vendor is consulted in a request-scoped
// layer that Context (or Middleware) adds in front of the request's own
// overrides. That layer asks the vendor once per flag and request, and
// the request's overrides (a signed cookie, a user's stored override) win
// over it. So typed handles, templates, flagonhttp, the admin page and
// OFREP all work unchanged.
//
// Reading a vendor-decided flag gives reason OVERRIDE with OverrideSource
// "openfeature:<provider name>". When the vendor has no value (an unknown
// flag, a type mismatch, an error), or gives one that the flag's override
// policy does not allow, the flag's own Flagon rules decide.
//
// Each CONFIGURATION_CHANGED event from the vendor publishes a snapshot
// with a new revision, so caches and ETags built on revisions expire;
// STALE and ERROR events mark the source stale until the vendor is READY
// again.
type Source struct {
	flagon.Publisher
	api  *openfeature.EvaluationAPI
	of   *openfeature.Client
	name string // the override source: "openfeature:" + provider name
	log  *slog.Logger
	env  string

	mu        sync.Mutex // serializes publishing and status changes
	defs      flagon.Definitions
	gen       int64 // vendor configuration generation
	vendorErr error // why the vendor is not ready; nil when it is

	handlers  []openfeature.EventCallback
	closeOnce sync.Once
}

var _ flagon.StatusSource = (*Source)(nil)

// NewSource registers provider with an OpenFeature API of its own (a
// provider serves one API, so do not register it elsewhere too), waits
// until ctx is done for the provider to initialize, and returns a source
// serving defs.
//
// A provider that fails to initialize leaves the source reported stale
// until the provider says it is ready, and what the provider cannot answer
// meanwhile follows the definitions' own rules; NewSource then returns the
// source and no error. It fails only on invalid definitions, or if ctx
// ends first.
func NewSource(ctx context.Context, provider openfeature.FeatureProvider, defs flagon.Definitions, opts *SourceOptions) (*Source, error) {
	if provider == nil {
		return nil, errors.New("ofprovider: NewSource: nil provider")
	}
	s := &Source{api: isolated.NewAPI(), name: "openfeature:" + provider.Metadata().Name}
	if opts != nil {
		s.env, s.log = opts.Environment, opts.Logger
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.SetDefinitions(defs); err != nil {
		return nil, err
	}
	s.of = s.api.NewClient()
	s.on(openfeature.ProviderConfigChange, func(d openfeature.EventDetails) {
		s.mu.Lock()
		s.gen++
		err := s.publishLocked()
		s.mu.Unlock()
		if err != nil {
			s.log.Error("ofprovider: republishing after a vendor change", "err", err)
		}
	})
	for _, t := range []openfeature.EventType{openfeature.ProviderStale, openfeature.ProviderError, openfeature.ProviderReady} {
		s.on(t, func(d openfeature.EventDetails) { s.vendorStatus(t, d.Message) })
	}
	if err := s.api.SetProviderAndWait(ctx, provider); err != nil {
		if ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("ofprovider: initializing %s: %w", s.name, err)
		}
		s.mu.Lock()
		if s.of.State() != openfeature.ReadyState { // else it recovered already
			s.vendorErr = fmt.Errorf("ofprovider: initializing %s: %w", s.name, err)
			s.SetStale(s.vendorErr)
		}
		s.mu.Unlock()
		s.log.Warn("ofprovider: vendor provider failed to initialize; serving Flagon's own rules", "provider", s.name, "err", err)
	}
	return s, nil
}

// vendorStatus handles a STALE, ERROR or READY event of type t.
//
// The SDK runs each event handler on a goroutine of its own, so handlers
// of successive events run in no set order: the READY of initialization
// may run after a later STALE. The SDK records the provider's state before
// it starts an event's handlers, so a handler whose event no longer matches
// that state is a late one and does nothing; the handler of the latest
// event always sees it, and the source ends up as stale as the SDK says.
func (s *Source) vendorStatus(t openfeature.EventType, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := s.of.State()
	switch {
	case t == openfeature.ProviderReady && state == openfeature.ReadyState:
		if s.vendorErr == nil {
			return
		}
		s.vendorErr = nil
		s.Publish(s.Snapshot()) // fresh again
		s.log.Info("ofprovider: vendor provider ready again", "provider", s.name)
	case t == openfeature.ProviderStale && state == openfeature.StaleState:
		s.vendorErr = fmt.Errorf("ofprovider: %s is stale: %s", s.name, msg)
		s.SetStale(s.vendorErr)
		s.log.Warn("ofprovider: vendor provider stale", "provider", s.name, "message", msg)
	case t == openfeature.ProviderError && (state == openfeature.ErrorState || state == openfeature.FatalState):
		s.vendorErr = fmt.Errorf("ofprovider: %s failed: %s", s.name, msg)
		s.SetStale(s.vendorErr)
		s.log.Warn("ofprovider: vendor provider error", "provider", s.name, "message", msg)
	default:
		s.log.Debug("ofprovider: ignoring an event overtaken by a later one", "provider", s.name, "event", t, "state", state)
	}
}

// on adds a handler for one type of the provider's events.
func (s *Source) on(t openfeature.EventType, fn func(openfeature.EventDetails)) {
	cb := openfeature.EventCallback(&fn)
	s.handlers = append(s.handlers, cb)
	s.of.AddHandler(t, cb)
}

// SetDefinitions replaces the flag definitions, such as after the config
// file changed. Invalid definitions are rejected whole and the current
// snapshot keeps serving.
func (s *Source) SetDefinitions(defs flagon.Definitions) error {
	if err := defs.Validate(); err != nil {
		return fmt.Errorf("ofprovider: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.defs
	s.defs = defs
	if err := s.publishLocked(); err != nil {
		s.defs = old
		return err
	}
	for _, f := range defs.Flags {
		if len(f.Override.Variants) > 0 {
			s.log.Info("ofprovider: the vendor's values for this flag are limited to its override variants",
				"flag", f.Key, "variants", f.Override.Variants)
		}
	}
	return nil
}

// publishLocked compiles and publishes the definitions, with a revision
// naming the vendor's configuration generation.
func (s *Source) publishLocked() error {
	base, err := flagon.NewSnapshot(s.defs, flagon.SnapshotOptions{Environment: s.env})
	if err != nil {
		return fmt.Errorf("ofprovider: %w", err)
	}
	snap, err := flagon.NewSnapshot(s.defs, flagon.SnapshotOptions{
		Environment: s.env,
		Revision:    fmt.Sprintf("%s.of%d", base.Revision(), s.gen),
	})
	if err != nil {
		return fmt.Errorf("ofprovider: %w", err)
	}
	s.Publish(snap)
	if s.vendorErr != nil { // new definitions do not make the vendor ready
		s.SetStale(s.vendorErr)
	}
	return nil
}

// Close shuts the vendor's provider down. The last snapshot keeps serving.
func (s *Source) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.api.Shutdown(context.Background())
	})
	return err
}

// Context returns a copy of ctx whose flagon scope consults the vendor:
// the EvalContext ctx carries is unchanged, and its overrides are
// followed by the vendor's values for that context. Reading flags with
// the returned context asks the vendor at most once per flag.
func (s *Source) Context(ctx context.Context) context.Context {
	ec := flagon.EvalContextFrom(ctx)
	return flagon.WithScope(ctx, ec, s.Overrides(ctx, ec, flagon.OverridesFrom(ctx)))
}

// Middleware applies Context to each request. Mount it inside flagonhttp's
// middleware, so that the request's own overrides come first.
func (s *Source) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(s.Context(r.Context())))
	})
}

// Overrides returns the override layer for one request: first base (the
// request's own overrides; may be nil), then the vendor's value for ec.
// ctx is passed to the vendor's provider.
func (s *Source) Overrides(ctx context.Context, ec flagon.EvalContext, base flagon.Overrides) flagon.Overrides {
	return &vendorLayer{src: s, ctx: ctx, ec: EvaluationContext(ec, nil), base: base, snap: s.Snapshot()}
}

// vendorLayer is the per-request layer Overrides returns.
type vendorLayer struct {
	src  *Source
	ctx  context.Context
	ec   openfeature.EvaluationContext
	base flagon.Overrides
	snap *flagon.Snapshot

	mu   sync.Mutex
	memo map[string]vendorValue
}

type vendorValue struct {
	v  any
	ok bool
}

// Override implements flagon.Overrides.
func (l *vendorLayer) Override(key string) (flagon.Override, bool) {
	if l.base != nil {
		if o, ok := l.base.Override(key); ok {
			return o, true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	vv, seen := l.memo[key]
	if !seen {
		vv.v, vv.ok = l.src.resolve(l.ctx, l.snap, key, l.ec)
		if l.memo == nil {
			l.memo = make(map[string]vendorValue)
		}
		l.memo[key] = vv
	}
	if !vv.ok {
		return flagon.Override{}, false
	}
	return flagon.Override{Value: vv.v, Source: l.src.name}, true
}

// resolve asks the vendor for the value of the flag with the given key,
// by its type in snap. It reports false when the vendor has none.
func (s *Source) resolve(ctx context.Context, snap *flagon.Snapshot, key string, ec openfeature.EvaluationContext) (v any, ok bool) {
	f, found := snap.Flag(key)
	if !found {
		return nil, false
	}
	defer func() {
		if p := recover(); p != nil { // a vendor's bug must not take the request down
			s.log.Error("ofprovider: vendor provider panicked", "flag", key, "panic", p)
			v, ok = nil, false
		}
	}()
	var err error
	switch f.Type {
	case flagon.TypeBool:
		var d openfeature.BooleanEvaluationDetails
		d, err = s.of.BooleanValueDetails(ctx, key, false, ec)
		v = d.Value
	case flagon.TypeString:
		var d openfeature.StringEvaluationDetails
		d, err = s.of.StringValueDetails(ctx, key, "", ec)
		v = d.Value
	case flagon.TypeInt:
		var d openfeature.IntEvaluationDetails
		d, err = s.of.IntValueDetails(ctx, key, 0, ec)
		v = d.Value
	case flagon.TypeFloat:
		var d openfeature.FloatEvaluationDetails
		d, err = s.of.FloatValueDetails(ctx, key, 0, ec)
		v = d.Value
	case flagon.TypeObject:
		var d openfeature.InterfaceEvaluationDetails
		d, err = s.of.ObjectValueDetails(ctx, key, nil, ec)
		v = d.Value
		if _, isMap := v.(map[string]any); !isMap && err == nil {
			err = fmt.Errorf("the vendor's value %v (%T) is not an object", v, v)
		}
	default:
		return nil, false
	}
	if err != nil {
		s.log.Debug("ofprovider: the vendor has no value; Flagon's rules decide", "flag", key, "err", err)
		return nil, false
	}
	return v, true
}

// Declarations returns definitions for the flags declared in code with
// flagon.NewBool and friends (flagon.Declared() lists them): each flag
// with its type, description, and one variant holding the code's default.
// Use it when the vendor holds the only configuration there is.
func Declarations(decls []flagon.Declaration) flagon.Definitions {
	var defs flagon.Definitions
	for _, d := range decls {
		f := flagon.Flag{Key: d.Key, Type: d.Type, Description: d.Description}
		if b, ok := d.Default.(bool); ok && d.Type == flagon.TypeBool {
			f.Default = "off"
			if b {
				f.Default = "on"
			}
		} else {
			f.Variants = []flagon.Variant{{Name: "default", Value: d.Default}}
		}
		defs.Flags = append(defs.Flags, f)
	}
	return defs
}
