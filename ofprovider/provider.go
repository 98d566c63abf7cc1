package ofprovider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/open-feature/go-sdk/openfeature"
)

// Defaults for the zero Options.
const (
	// DefaultInitTimeout bounds how long Init waits for the client's first
	// snapshot.
	DefaultInitTimeout = 30 * time.Second
	// DefaultStatusInterval is how often the provider asks its client's
	// source whether it is stale. Staleness publishes no event, so the
	// provider looks; the look is one atomic load.
	DefaultStatusInterval = time.Second
)

// Name is the provider's name in OpenFeature metadata.
const Name = "flagon"

// Options configures a Provider. The zero value is a valid configuration.
type Options struct {
	// InitTimeout bounds how long Init waits for the client's first
	// snapshot; zero means DefaultInitTimeout. An Init that times out
	// fails, the SDK reports the provider in ERROR, and the provider
	// becomes READY when the snapshot arrives.
	InitTimeout time.Duration
	// StatusInterval is how often to check for staleness; zero means
	// DefaultStatusInterval.
	StatusInterval time.Duration
}

// Provider is an OpenFeature provider backed by a flagon.Client, in
// process. Register it with openfeature.SetProviderAndWait.
//
// It reports READY once the client has a snapshot,
// CONFIGURATION_CHANGED for each new snapshot, naming the flags added,
// removed, or whose definition or audiences changed; STALE while the
// client's source says its data is stale (READY again when it recovers);
// and ERROR when Init times out with no snapshot.
//
// A disabled flag (its kill switch on) resolves without error, with
// reason DISABLED and its default variant and value, as Flagon's OFREP
// endpoints answer it.
type Provider struct {
	client *flagon.Client
	opts   Options
	events chan openfeature.Event

	mu      sync.Mutex
	state   openfeature.State // as last reported
	rev     string            // the revision last reported
	last    *flagon.Snapshot  // the snapshot of rev, for the next change's diff
	stop    chan struct{}     // closed by Shutdown; nil when not running
	stopped chan struct{}     // closed when the watcher has exited
}

var (
	_ openfeature.FeatureProvider          = (*Provider)(nil)
	_ openfeature.StateHandler             = (*Provider)(nil)
	_ openfeature.ContextAwareStateHandler = (*Provider)(nil)
	_ openfeature.EventHandler             = (*Provider)(nil)
)

// New returns a provider that evaluates flags with client. opts may be
// nil.
func New(client *flagon.Client, opts *Options) *Provider {
	p := &Provider{client: client, events: make(chan openfeature.Event, 16), state: openfeature.NotReadyState}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.InitTimeout <= 0 {
		p.opts.InitTimeout = DefaultInitTimeout
	}
	if p.opts.StatusInterval <= 0 {
		p.opts.StatusInterval = DefaultStatusInterval
	}
	return p
}

// Metadata implements openfeature.FeatureProvider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: Name} }

// Hooks implements openfeature.FeatureProvider; the provider has none.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// EventChannel implements openfeature.EventHandler.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// Init implements openfeature.StateHandler: InitWithContext with no
// deadline but InitTimeout.
func (p *Provider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// InitWithContext starts following the client's source and waits, until
// ctx is done or InitTimeout has passed, for its first snapshot.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	src := p.client.Source()
	if src == nil {
		return errors.New("ofprovider: the flagon client is nil")
	}
	p.start(src)
	if p.client.Snapshot() != nil {
		p.setReady()
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.InitTimeout)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s != nil }); err != nil {
		p.mu.Lock()
		if src.Snapshot() != nil { // it came just now
			p.mu.Unlock()
			p.setReady()
			return nil
		}
		// The watcher reports READY when the first snapshot comes.
		p.state, p.rev, p.last = openfeature.ErrorState, "", nil
		p.mu.Unlock()
		return &openfeature.ProviderInitError{
			ErrorCode: openfeature.ProviderNotReadyCode,
			Message:   fmt.Sprintf("ofprovider: no flags from the source: %v", err),
		}
	}
	p.setReady()
	return nil
}

// setReady records the state the SDK reports after a successful Init.
func (p *Provider) setReady() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.client.Snapshot(); s != nil && p.rev == "" {
		p.rev, p.last = s.Revision(), s
	}
	// A stale source is reported by the watcher's next look, after the
	// SDK's own READY.
	p.state = openfeature.ReadyState
}

// Shutdown implements openfeature.StateHandler: it stops following the
// source. The client is the caller's to close.
func (p *Provider) Shutdown() {
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop, p.state = nil, openfeature.NotReadyState
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// ShutdownWithContext implements openfeature.ContextAwareStateHandler.
func (p *Provider) ShutdownWithContext(context.Context) error {
	p.Shutdown()
	return nil
}

// start subscribes to src and starts the status watcher, once.
func (p *Provider) start(src flagon.Source) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	p.stop, p.stopped = stop, stopped
	pending := make(chan *flagon.Snapshot, 1)
	unsubscribe := src.Subscribe(func(s *flagon.Snapshot) {
		for { // keep only the latest; never block the source
			select {
			case pending <- s:
				return
			default:
			}
			select {
			case <-pending:
			default:
			}
		}
	})
	go func() {
		defer close(stopped)
		defer unsubscribe()
		tick := time.NewTicker(p.opts.StatusInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case s := <-pending:
				p.waitClient(s, stop)
				p.snapshotChanged(s)
			case <-tick.C:
				p.checkStatus()
			}
		}
	}()
}

// waitClient waits, briefly, until the client has swapped in s. The
// client hears of s in the same Publish call as the provider, in no set
// order; a handler of CONFIGURATION_CHANGED must read the new flags.
func (p *Provider) waitClient(s *flagon.Snapshot, stop chan struct{}) {
	for range 1000 {
		if c := p.client.Snapshot(); c == s || c != nil && s != nil && c.Revision() == s.Revision() {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Microsecond):
		}
	}
}

// snapshotChanged reports a snapshot from the source.
func (p *Provider) snapshotChanged(s *flagon.Snapshot) {
	if s == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.state == openfeature.NotReadyState:
		// Init has not finished; it reports READY itself.
		p.rev, p.last = s.Revision(), s
	case p.state == openfeature.ErrorState && p.rev == "":
		// The first snapshot, after Init gave up waiting.
		p.rev, p.last = s.Revision(), s
		p.state = openfeature.ReadyState
		p.emitLocked(openfeature.ProviderReady, "flags loaded")
	case s.Revision() != p.rev:
		old := p.last
		p.rev, p.last = s.Revision(), s
		if p.state != openfeature.ReadyState && !p.client.Status().Stale {
			// CONFIGURATION_CHANGED leaves the SDK's state as it is.
			p.state = openfeature.ReadyState
			p.emitLocked(openfeature.ProviderReady, "the flag source is fresh again")
		}
		p.emitChangedLocked(old, s)
	case p.state == openfeature.StaleState && !p.client.Status().Stale:
		p.state = openfeature.ReadyState
		p.emitLocked(openfeature.ProviderReady, "the flag source is fresh again")
	}
}

// checkStatus reports a change in the source's staleness.
func (p *Provider) checkStatus() {
	st := p.client.Status()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case st.Stale && p.state == openfeature.ReadyState:
		p.state = openfeature.StaleState
		msg := "the flag source is stale"
		if st.Err != nil {
			msg += ": " + st.Err.Error()
		}
		p.emitLocked(openfeature.ProviderStale, msg)
	case !st.Stale && p.state == openfeature.StaleState:
		p.state = openfeature.ReadyState
		p.emitLocked(openfeature.ProviderReady, "the flag source is fresh again")
	}
}

// emitChangedLocked sends CONFIGURATION_CHANGED naming the flags whose
// evaluation can differ from that of snapshot old (see changedFlags).
func (p *Provider) emitChangedLocked(old, s *flagon.Snapshot) {
	ev := p.event(openfeature.ProviderConfigChange, "flags changed to revision "+s.Revision())
	ev.FlagChanges = changedFlags(old, s)
	prev := ""
	if old != nil {
		prev = old.Revision()
	}
	ev.EventMetadata = map[string]any{"revision": s.Revision(), "previousRevision": prev}
	p.send(ev)
}

func (p *Provider) emitLocked(t openfeature.EventType, msg string) { p.send(p.event(t, msg)) }

func (p *Provider) event(t openfeature.EventType, msg string) openfeature.Event {
	return openfeature.Event{ProviderName: Name, EventType: t, ProviderEventDetails: openfeature.ProviderEventDetails{Message: msg}}
}

// send queues ev; when nobody drains the channel (the provider is not
// registered), events past its buffer are dropped rather than blocking.
func (p *Provider) send(ev openfeature.Event) {
	select {
	case p.events <- ev:
	default:
	}
}

// BooleanEvaluation implements openfeature.FeatureProvider.
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return resolve(p, ctx, flag, def, flat)
}

// StringEvaluation implements openfeature.FeatureProvider.
func (p *Provider) StringEvaluation(ctx context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return resolve(p, ctx, flag, def, flat)
}

// FloatEvaluation implements openfeature.FeatureProvider.
func (p *Provider) FloatEvaluation(ctx context.Context, flag string, def float64, flat openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return resolve(p, ctx, flag, def, flat)
}

// IntEvaluation implements openfeature.FeatureProvider.
func (p *Provider) IntEvaluation(ctx context.Context, flag string, def int64, flat openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return resolve(p, ctx, flag, def, flat)
}

// ObjectEvaluation implements openfeature.FeatureProvider. Only object
// flags resolve; their value is a map[string]any, shared: do not modify it.
func (p *Provider) ObjectEvaluation(ctx context.Context, flag string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	d := resolve(p, ctx, flag, map[string]any(nil), flat)
	out := openfeature.InterfaceResolutionDetail{Value: d.Value, ProviderResolutionDetail: d.ProviderResolutionDetail}
	if d.ResolutionError != (openfeature.ResolutionError{}) {
		out.Value = def
	}
	return out
}

// resolve evaluates flag and checks that its value is a T.
func resolve[T any](p *Provider, ctx context.Context, flag string, def T, flat openfeature.FlattenedContext) openfeature.GenericResolutionDetail[T] {
	out := openfeature.GenericResolutionDetail[T]{Value: def}
	r := p.client.Evaluate(scope(ctx, flat), flag)
	if r.ErrorCode != flagon.ErrorNone {
		out.Reason = openfeature.ErrorReason
		out.ResolutionError = resolutionError(&r)
		return out
	}
	v, ok := r.Value.(T)
	if !ok {
		out.Reason = openfeature.ErrorReason
		out.ResolutionError = openfeature.NewTypeMismatchResolutionError(
			fmt.Sprintf("flag %q has %s values, not %s", flag, typeName(r.Value), typeName(def)))
		return out
	}
	out.Value = v
	out.Reason = Reason(r.Reason)
	out.Variant = r.Variant
	out.FlagMetadata = p.metadata(&r)
	return out
}

// Reason returns the OpenFeature reason for a flagon reason. OVERRIDE is
// not one of OpenFeature's: a per-request override is reported as
// TARGETING_MATCH, and the result's metadata has "override" true and
// "overrideSource" saying where it came from, as the OFREP endpoints do.
func Reason(r flagon.Reason) openfeature.Reason {
	switch r {
	case flagon.ReasonOverride:
		return openfeature.TargetingMatchReason
	case flagon.ReasonStatic, flagon.ReasonDefault, flagon.ReasonTargetingMatch, flagon.ReasonSplit,
		flagon.ReasonDisabled, flagon.ReasonError:
		return openfeature.Reason(r)
	}
	return openfeature.UnknownReason
}

// metadata returns the flag's metadata, with the override and rule that
// decided r.
func (p *Provider) metadata(r *flagon.Result) openfeature.FlagMetadata {
	var md openfeature.FlagMetadata
	if f, ok := p.client.Snapshot().Flag(r.Key); ok && len(f.Metadata) > 0 {
		md = make(openfeature.FlagMetadata, len(f.Metadata)+2)
		for k, v := range f.Metadata {
			md[k] = v
		}
	}
	add := func(k string, v any) {
		if md == nil {
			md = openfeature.FlagMetadata{}
		}
		md[k] = v
	}
	if r.Reason == flagon.ReasonOverride {
		add("override", true)
		add("overrideSource", r.OverrideSource)
	}
	if r.RuleID != "" {
		add("ruleId", r.RuleID)
	}
	return md
}

// resolutionError returns the OpenFeature error for a failed evaluation.
func resolutionError(r *flagon.Result) openfeature.ResolutionError {
	msg := fmt.Sprintf("flag %q: %v", r.Key, r.Err())
	switch r.ErrorCode {
	case flagon.ErrorFlagNotFound:
		return openfeature.NewFlagNotFoundResolutionError(msg)
	case flagon.ErrorTypeMismatch:
		return openfeature.NewTypeMismatchResolutionError(msg)
	case flagon.ErrorTargetingKeyMissing:
		return openfeature.NewTargetingKeyMissingResolutionError(msg)
	case flagon.ErrorInvalidContext:
		return openfeature.NewInvalidContextResolutionError(msg)
	case flagon.ErrorParse:
		return openfeature.NewParseErrorResolutionError(msg)
	case flagon.ErrorProviderNotReady:
		return openfeature.NewProviderNotReadyResolutionError(msg)
	}
	return openfeature.NewGeneralResolutionError(msg)
}

// typeName names the flag type of a Go value, for messages.
func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case int64:
		return "int"
	case float64:
		return "float"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// cloneAttrs copies a flattened context's attributes, without the
// targeting key and the overrides.
func cloneAttrs(flat openfeature.FlattenedContext) map[string]any {
	m := maps.Clone(map[string]any(flat))
	delete(m, openfeature.TargetingKey)
	delete(m, OverridesAttribute)
	if len(m) == 0 {
		return nil
	}
	return m
}
