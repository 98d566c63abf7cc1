package flagonhttp

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/flagon/flagon"
)

// Defaults of Options.
const (
	// DefaultOverrideDuration is how long an override set by the link
	// lasts when the link names no duration (capped by the policy).
	DefaultOverrideDuration = 30 * 24 * time.Hour
	// DefaultHeaderMaxAge is how old a signed Flagon-Overrides request
	// header may be.
	DefaultHeaderMaxAge = 5 * time.Minute
	// MaxDurationSeconds is the longest duration the override link
	// accepts: one year.
	MaxDurationSeconds = 365 * 24 * 3600
)

// HeaderOverrides is the name of the signed request header that carries
// overrides from an upstream service, and of the response header that,
// outside production, counts the overrides a request carried.
const HeaderOverrides = "Flagon-Overrides"

// The sources of overrides, as flagon.Override.Source and
// flagon.Result.OverrideSource name them.
const (
	SourceCookie       = "cookie"        // the signed override cookie
	SourceHeader       = "header"        // the signed Flagon-Overrides header
	SourceQuery        = "query"         // ?flagon.<name>=… (Compat.Query)
	SourceLegacyCookie = "legacy-cookie" // features.<name> or feature_flags (Compat)
	SourceUser         = "user"          // Options.UserOverrides
)

// Options configures the middleware and the handlers of this package. The
// zero value works, with one caveat: without Keys, a random per-process
// key signs cookies, so they do not survive a restart and are not shared
// between instances (a warning is logged once). Pass the same Options to
// Middleware, OverrideHandler and FeaturesHandler.
type Options struct {
	// Context builds the evaluation context of a request: the targeting
	// key and attributes such as is_staff, email or country. Nil gives
	// every request the empty context.
	Context func(r *http.Request) flagon.EvalContext

	// CanOverride reports whether r may override f, a flag whose policy is
	// staff. Members of the policy's audience may, too. Nil allows only
	// the audience.
	CanOverride func(r *http.Request, f flagon.Flag) bool

	// Keys sign and verify the override cookie, the Flagon-Overrides
	// header and share tokens. Nil means a random per-process key; see
	// above.
	Keys *Keys

	// CookieName names the override cookie; empty means
	// DefaultCookieName. CookieDomain, if set, shares it with subdomains.
	CookieName   string
	CookieDomain string
	// CookieSecure says when the cookie is marked Secure; the zero value
	// marks it so on TLS requests.
	CookieSecure SecureMode

	// Compat switches on readers of older, unsigned override formats.
	Compat Compat

	// IgnoreHeader turns off the reading of the signed Flagon-Overrides
	// request header. HeaderMaxAge is how old such a header may be; zero
	// means DefaultHeaderMaxAge.
	IgnoreHeader bool
	HeaderMaxAge time.Duration

	// UserOverrides, if set, returns the overrides stored for the
	// signed-in user of r (a store's UserOverrides), or nil. They apply
	// below the cookie. Errors are logged and ignored.
	UserOverrides func(r *http.Request) (flagon.Overrides, error)

	// TokenRevoked, if set, reports whether the share token with the given
	// ID has been revoked.
	TokenRevoked func(id string) bool

	// Production hides the Flagon-Overrides response header and the
	// override banner. They are hidden too when the client's snapshot is
	// for an environment named "production" or "prod".
	Production bool

	// ManageURL is where the override banner's "manage" link points, such
	// as the admin UI's overrides page; empty leaves the link out.
	ManageURL string

	// AllowedRedirectHosts lists the hosts (host or host:port) that the
	// override link may redirect to with an absolute URL; relative paths
	// are always allowed. See SafeRedirect.
	AllowedRedirectHosts []string

	// DefaultDuration is how long an override set by a link without a
	// duration lasts; zero means DefaultOverrideDuration. It is capped by
	// each flag's policy.
	DefaultDuration time.Duration

	// CrossOrigin checks the override link's POSTs; nil means
	// http.NewCrossOriginProtection(), which refuses cross-origin browser
	// requests.
	CrossOrigin *http.CrossOriginProtection

	// Expose selects the flags that FeaturesHandler shows; nil shows all.
	Expose func(f flagon.Flag) bool

	// CORSOrigins are the origins (scheme://host[:port], exactly as
	// browsers send them, or "*" for any) whose pages may read
	// FeaturesHandler's JSON from another origin. Responses then carry
	// Access-Control-Allow-Origin for those origins and Vary: Origin, and
	// preflight requests (OPTIONS) are answered 204. None, the default,
	// sends no CORS headers.
	CORSOrigins []string
	// CORSCredentials lets those pages send the browser's cookies, the
	// override cookie among them (Access-Control-Allow-Credentials). Off
	// by default: without it, a cross-origin page sees the flags without
	// the browser's overrides.
	CORSCredentials bool

	// OnOverride, if set, is called by the override link (OverrideHandler)
	// each time it has set or removed an override in the cookie, before
	// it sends the redirect: for example, to append an audit entry.
	// Refused requests, confirmation pages and removals of an override the
	// cookie did not hold do not call it.
	OnOverride func(r *http.Request, ev OverrideEvent)

	// Logger receives warnings about bad cookies, headers and tokens, each
	// distinct one once. Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Compat switches on readers of unsigned override formats. Each is off by
// default. Unsigned overrides apply only to flags whose policy is anyone,
// and only to values the policy allows.
type Compat struct {
	// FeatureCookies reads per-flag cookies features.<flag>=true|false
	// (or a variant name).
	FeatureCookies bool
	// JSONCookie reads the feature_flags cookie, a JSON object from flag
	// to value, such as {"use_new_email_service": true}; a key with
	// underscores matches a flag with hyphens.
	JSONCookie bool
	// Query reads query parameters flagon.<flag>=<variant or value> on
	// every request, for automated tests.
	Query bool
}

// NewCodec returns the Codec that opts describe: its keys and cookie
// attributes. The admin UI and the test kit read and write the override
// cookie with it.
func NewCodec(opts *Options) *Codec {
	if opts == nil {
		opts = &Options{}
	}
	return &Codec{
		Keys:   opts.Keys,
		Name:   opts.CookieName,
		Domain: opts.CookieDomain,
		Secure: opts.CookieSecure,
		Now:    opts.Now,
	}
}

// NewPolicy returns the Policy that opts describe.
func NewPolicy(opts *Options) *Policy {
	if opts == nil {
		opts = &Options{}
	}
	return &Policy{CanOverride: opts.CanOverride, Context: opts.Context}
}

// config is Options resolved, shared by a middleware or handler's
// requests.
type config struct {
	client *flagon.Client
	opts   Options
	codec  *Codec
	policy *Policy
	info   infoCache
	log    *slog.Logger
	seen   dedupe
	cache  *cookieCache // nil turns the cache off
}

func newConfig(c *flagon.Client, opts *Options) *config {
	cfg := &config{client: c}
	if opts != nil {
		cfg.opts = *opts
	}
	cfg.log = cfg.opts.Logger
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.opts.Keys == nil {
		warnNoKeys(cfg.log)
	}
	if cfg.opts.HeaderMaxAge <= 0 {
		cfg.opts.HeaderMaxAge = DefaultHeaderMaxAge
	}
	if cfg.opts.DefaultDuration <= 0 {
		cfg.opts.DefaultDuration = DefaultOverrideDuration
	}
	if cfg.opts.CrossOrigin == nil {
		cfg.opts.CrossOrigin = http.NewCrossOriginProtection()
	}
	cfg.codec = NewCodec(&cfg.opts)
	cfg.cache = newCookieCache()
	cfg.policy = NewPolicy(&cfg.opts)
	return cfg
}

func (cfg *config) now() time.Time {
	if cfg.opts.Now != nil {
		return cfg.opts.Now()
	}
	return time.Now()
}

// snapInfo returns the info of the client's current snapshot.
func (cfg *config) snapInfo() *snapInfo {
	return cfg.info.get(cfg.client.Snapshot())
}

// production reports whether the override count and banner are hidden.
func (cfg *config) production(si *snapInfo) bool {
	return cfg.opts.Production || si.production
}

// warnOnce logs a warning about a bad input, once per distinct input.
func (cfg *config) warnOnce(what, input string, err error, attrs ...slog.Attr) {
	if !cfg.seen.first(what, input) {
		return
	}
	attrs = append(attrs, slog.String("error", err.Error()))
	cfg.log.LogAttrs(context.Background(), slog.LevelWarn, "flagonhttp: ignoring "+what, attrs...)
}

// dedupeMax bounds the memory of dedupe: when full, it forgets everything.
const dedupeMax = 1024

// dedupe remembers which bad inputs were logged, by hash.
type dedupe struct {
	mu   sync.Mutex
	seed maphash.Seed
	seen map[uint64]struct{}
}

// first reports whether input (of the given kind) is seen for the first
// time since dedupe last forgot.
func (d *dedupe) first(kind, input string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil || len(d.seen) >= dedupeMax {
		d.seen = make(map[uint64]struct{})
		d.seed = maphash.MakeSeed()
	}
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(kind)
	h.WriteByte(0)
	h.WriteString(input)
	sum := h.Sum64()
	if _, ok := d.seen[sum]; ok {
		return false
	}
	d.seen[sum] = struct{}{}
	return true
}
