package flagon

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Options configures a Client. The zero value is a valid configuration.
type Options struct {
	// Logger receives reloads and warnings, and each evaluation at debug
	// level when LogEvaluations is set. Nil means slog.Default().
	Logger *slog.Logger
	// LogEvaluations logs every evaluation to Logger at debug level (when
	// the logger is enabled for it), for debugging a flag's rules. It is
	// off by default: asking the logger on each evaluation whether it
	// wants debug records costs more than evaluating a static flag.
	LogEvaluations bool
	// OnEvaluate, if set, is called after every evaluation, on the
	// evaluating goroutine. The test kit records evaluations with it; it
	// must be fast and must not retain ec.Attrs past the call.
	OnEvaluate func(ctx context.Context, ec EvalContext, r Result)
	// DisableUsage turns usage counting off. By default a client counts
	// every evaluation per flag, variant and reason, for TakeUsage and
	// TakeUsageDetail, at the cost of one atomic add per evaluation and
	// of 8 bytes × (variants+1) × 7 reasons per flag.
	DisableUsage bool
}

// A Client evaluates flags for the contexts that requests carry. It
// follows its source, swapping in each new snapshot atomically, so
// evaluations never block and never see a half-applied change.
//
// A nil *Client is valid: every getter returns the caller's default.
type Client struct {
	src        Source
	state      atomic.Pointer[clientState]
	counting   bool
	unknown    atomic.Int64 // evaluations of unknown keys, see UnknownFlagEvaluations
	usage      usageState
	log        *slog.Logger
	logEvals   bool // Options.LogEvaluations
	onEvaluate func(context.Context, EvalContext, Result)
	// plain is set when nothing watches evaluations (no OnEvaluate, no
	// LogEvaluations): the typed getters may then serve a flag's fixed
	// result without building a Result.
	plain     bool
	unsub     func()
	checkOnce sync.Once
}

// NewClient returns a client that evaluates the snapshots src delivers.
// Flags declared with NewBool and friends but missing from the first
// snapshot are logged once, as warnings. When src is a UsageReporter (a
// remote.Source) and the client counts usage, the client hands it its
// counts: the source then takes them, and the program should not.
func NewClient(src Source, opts *Options) *Client {
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{src: src, log: opts.Logger, logEvals: opts.LogEvaluations, onEvaluate: opts.OnEvaluate,
		counting: !opts.DisableUsage}
	c.plain = c.onEvaluate == nil && !c.logEvals
	if c.log == nil {
		c.log = slog.Default()
	}
	c.unsub = src.Subscribe(c.swap)
	if s := src.Snapshot(); s != nil {
		c.state.CompareAndSwap(nil, c.newState(s))
		c.checkDeclared(s)
	}
	if r, ok := src.(UsageReporter); ok && c.counting {
		r.ReportUsage(c.TakeUsage)
	}
	return c
}

// newState returns the state that evaluates s, with a fresh usage table
// when the client counts.
func (c *Client) newState(s *Snapshot) *clientState {
	st := &clientState{snap: s}
	if c.counting {
		st.usage = &usageTable{snap: s, counts: make([]atomic.Int64, s.usageLen), unknown: &c.unknown}
	}
	return st
}

// swap installs a new snapshot from the source.
func (c *Client) swap(s *Snapshot) {
	if s == nil {
		return
	}
	old := c.state.Swap(c.newState(s))
	oldRev := ""
	if old != nil {
		oldRev = old.snap.revision
		if old.usage != nil {
			c.retire(old.usage)
		}
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "flagon: flags reloaded",
		slog.String("revision", s.revision), slog.String("previous", oldRev),
		slog.Int("flags", s.Len()), slog.String("environment", s.env))
	c.checkDeclared(s)
}

func (c *Client) checkDeclared(s *Snapshot) {
	c.checkOnce.Do(func() {
		for _, err := range CheckDeclared(s) {
			c.log.LogAttrs(context.Background(), slog.LevelWarn, "flagon: "+err.Error())
		}
	})
}

// Close stops following the source. The last snapshot keeps serving.
func (c *Client) Close() {
	if c != nil && c.unsub != nil {
		c.unsub()
	}
}

// Snapshot returns the snapshot the client evaluates now, or nil before
// the source delivered one.
func (c *Client) Snapshot() *Snapshot {
	if c == nil {
		return nil
	}
	if st := c.state.Load(); st != nil {
		return st.snap
	}
	return nil
}

// Source returns the client's source.
func (c *Client) Source() Source {
	if c == nil {
		return nil
	}
	return c.src
}

// Status reports whether the client's data is stale, when its source can
// tell.
func (c *Client) Status() Status {
	if c == nil {
		return Status{}
	}
	if ss, ok := c.src.(StatusSource); ok {
		return ss.Status()
	}
	return Status{}
}

// Evaluate returns the full result of the flag for the EvalContext and
// overrides that ctx carries.
func (c *Client) Evaluate(ctx context.Context, key string) Result {
	var r Result
	c.evaluate(ctx, key, &r).count(&r)
	return r
}

// evaluate is Evaluate writing into *r, which must be zero, without
// counting it: it returns where the caller counts the evaluation, once it
// knows what it served. The typed getters keep r on their stack, so the
// hot path copies no Result.
func (c *Client) evaluate(ctx context.Context, key string, r *Result) usageRef {
	if c == nil {
		r.Key, r.Reason, r.ErrorCode = key, ReasonError, ErrorProviderNotReady
		return usageRef{}
	}
	st := c.state.Load()
	var f *cflag
	if st != nil {
		f = st.snap.flags[key]
	}
	return c.evaluateFlag(ctx, st, key, f, r)
}

// evaluateFlag is evaluate once the state st (nil before the first
// snapshot) and the flag f (nil when st has no flag key) are known.
func (c *Client) evaluateFlag(ctx context.Context, st *clientState, key string, f *cflag, r *Result) usageRef {
	sc := scopeFrom(ctx)
	if sc == nil {
		sc = &emptyScope
	}
	var u usageRef
	if st == nil {
		r.Key, r.Reason, r.ErrorCode = key, ReasonError, ErrorProviderNotReady
		if c.counting {
			c.unknown.Add(1)
		}
	} else {
		s := st.snap
		u = usageRef{t: st.usage, f: f}
		if f == nil {
			// Snapshot.evaluate reports the unknown key.
			s.evaluate(r, key, &sc.ec, sc.overrides, nil)
		} else {
			r.Key, r.Revision = key, s.revision
			a := attrs{ec: &sc.ec}
			f.evaluate(r, &a, sc.overrides, nil)
		}
	}
	if c.onEvaluate != nil {
		c.onEvaluate(ctx, sc.ec, *r)
	}
	if c.logEvals && c.log.Enabled(ctx, slog.LevelDebug) {
		c.logResult(ctx, r)
	}
	return u
}

// emptyScope stands in for a context that carries no scope. Evaluation
// only reads it.
var emptyScope scope

func (c *Client) logResult(ctx context.Context, r *Result) {
	msg := fmt.Sprintf("flag %s = %v (%s", r.Key, r.Value, r.Reason)
	if r.Rule > 0 {
		msg += fmt.Sprintf(", rule %d", r.Rule)
	}
	if r.ErrorCode != "" {
		msg += ", " + string(r.ErrorCode)
	}
	msg += ")"
	c.log.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("flag", r.Key), slog.String("variant", r.Variant),
		slog.String("reason", string(r.Reason)), slog.String("revision", r.Revision))
}

// All evaluates every flag for the context ctx carries, in key order, for
// pages that read many flags, front-end code and bulk APIs:
//
//	for r := range client.All(ctx) {
//		fmt.Println(r.Key, r.Value)
//	}
//
// It evaluates each flag as the loop reaches it, against the snapshot that
// is current when the loop starts, and allocates nothing; collect the
// results with slices.Collect when a slice is wanted. Rules on the same
// attribute look it up in the context once per loop.
func (c *Client) All(ctx context.Context) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		if c == nil {
			return
		}
		st := c.state.Load()
		if st == nil {
			return
		}
		s, usage := st.snap, st.usage
		var ec EvalContext
		var ov Overrides
		if sc := scopeFrom(ctx); sc != nil {
			ec, ov = sc.ec, sc.overrides
		}
		var memo [32]memoSlot
		a := attrs{ec: &ec, memo: memo[:]}
		if s.nattrs > len(memo) {
			a.memo = make([]memoSlot, s.nattrs)
		}
		for _, f := range s.list {
			r := Result{Key: f.key, Revision: s.revision}
			f.evaluate(&r, &a, ov, nil)
			if usage != nil {
				usage.add(f, &r)
			}
			if c.onEvaluate != nil {
				c.onEvaluate(ctx, ec, r)
			}
			if !yield(r) {
				return
			}
		}
	}
}

// typed checks r's value against the getter's type T. On any error it
// returns def, and marks a type mismatch in r.
func typed[T any](r *Result, def T) T {
	if r.ErrorCode != ErrorNone {
		return def
	}
	if v, ok := r.Value.(T); ok {
		return v
	}
	r.Reason, r.ErrorCode = ReasonError, ErrorTypeMismatch
	return def
}

// get evaluates the flag for a typed getter, and counts what it served:
// on a type mismatch, no variant.
//
// A flag whose result is fixed (see cflag.fixed) is served from what the
// snapshot precomputed, when the context carries no overrides and nothing
// watches evaluations: one map lookup and one atomic add into the
// counter that evaluate would have chosen.
func get[T any](c *Client, ctx context.Context, key string, def T) T {
	if c == nil {
		return def
	}
	st := c.state.Load()
	var f *cflag
	if st != nil {
		f = st.snap.flags[key]
		if f != nil && f.fixed != nil && c.plain {
			if sc := scopeFrom(ctx); sc == nil || sc.overrides == nil {
				if v, ok := f.fixed.value.(T); ok {
					if st.usage != nil {
						st.usage.counts[f.fixedSlot].Add(1)
					}
					return v
				}
			}
		}
	}
	var r Result
	u := c.evaluateFlag(ctx, st, key, f, &r)
	v := typed(&r, def)
	u.count(&r)
	return v
}

// getDetail is get, with the result.
func getDetail[T any](c *Client, ctx context.Context, key string, def T) (T, Result) {
	var r Result
	u := c.evaluate(ctx, key, &r)
	v := typed(&r, def)
	u.count(&r)
	return v, r
}

// Bool returns the value of a bool flag for the context ctx carries, or
// def on any error (unknown flag, wrong type, source not ready).
func (c *Client) Bool(ctx context.Context, key string, def bool) bool {
	return get(c, ctx, key, def)
}

// BoolDetail is Bool, with the result that says why.
func (c *Client) BoolDetail(ctx context.Context, key string, def bool) (bool, Result) {
	return getDetail(c, ctx, key, def)
}

// String returns the value of a string flag, or def on any error.
func (c *Client) String(ctx context.Context, key string, def string) string {
	return get(c, ctx, key, def)
}

// StringDetail is String, with the result that says why.
func (c *Client) StringDetail(ctx context.Context, key string, def string) (string, Result) {
	return getDetail(c, ctx, key, def)
}

// Int returns the value of an int flag, or def on any error.
func (c *Client) Int(ctx context.Context, key string, def int64) int64 {
	return get(c, ctx, key, def)
}

// IntDetail is Int, with the result that says why.
func (c *Client) IntDetail(ctx context.Context, key string, def int64) (int64, Result) {
	return getDetail(c, ctx, key, def)
}

// Float returns the value of a float flag, or def on any error.
func (c *Client) Float(ctx context.Context, key string, def float64) float64 {
	return get(c, ctx, key, def)
}

// FloatDetail is Float, with the result that says why.
func (c *Client) FloatDetail(ctx context.Context, key string, def float64) (float64, Result) {
	return getDetail(c, ctx, key, def)
}

// Object returns the value of an object flag, or def on any error. The
// map is shared: the caller must not modify it.
func (c *Client) Object(ctx context.Context, key string, def map[string]any) map[string]any {
	return get(c, ctx, key, def)
}

// ObjectDetail is Object, with the result that says why.
func (c *Client) ObjectDetail(ctx context.Context, key string, def map[string]any) (map[string]any, Result) {
	return getDetail(c, ctx, key, def)
}

var defaultClient atomic.Pointer[Client]

// SetDefault makes c the client behind the package-level functions and the
// typed flag handles.
func SetDefault(c *Client) { defaultClient.Store(c) }

// Default returns the client set by SetDefault, or nil. A nil client
// serves every caller's default.
func Default() *Client { return defaultClient.Load() }

// Bool calls Bool on the default client.
func Bool(ctx context.Context, key string, def bool) bool { return Default().Bool(ctx, key, def) }

// String calls String on the default client.
func String(ctx context.Context, key string, def string) string {
	return Default().String(ctx, key, def)
}

// Int calls Int on the default client.
func Int(ctx context.Context, key string, def int64) int64 { return Default().Int(ctx, key, def) }

// Float calls Float on the default client.
func Float(ctx context.Context, key string, def float64) float64 {
	return Default().Float(ctx, key, def)
}

// Object calls Object on the default client.
func Object(ctx context.Context, key string, def map[string]any) map[string]any {
	return Default().Object(ctx, key, def)
}

// All calls All on the default client.
func All(ctx context.Context) iter.Seq[Result] { return Default().All(ctx) }
