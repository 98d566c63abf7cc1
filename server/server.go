// Package server assembles `flagon serve`: a client following a store (or
// a config file), the admin UI, the REST API, the OFREP endpoints, the
// snapshot endpoint that remote sources follow, the override link and
// /features.json, /healthz and /metrics. cmd/flagon reads the settings
// and calls it; tests run it in process with httptest.
//
// To start:
//
//	st, _ := server.OpenStore(ctx, "sqlite://flagon.db")
//	ring, _ := server.OpenKeyring(ctx, st, nil)
//	srv, _ := server.New(ctx, st, &server.Options{APITokens: tokens, Keys: ring.Keys()})
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:8080", srv.Handler())
//
// NewRelay assembles `flagon relay` instead: a read-only replica that
// follows a server (or another relay) and serves OFREP, /features.json and
// the snapshot near the applications (docs/decisions/0160).
//
// What is open without a token, and why, is in docs/decisions/0008.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/ofrep"
	"github.com/flagon/flagon/postgres"
	"github.com/flagon/flagon/remote"
	"github.com/flagon/flagon/server/demo"
)

// Options configures a Server. The zero value serves the store's flags
// with a closed REST API and snapshot endpoint (no tokens), open OFREP
// endpoints, a generated admin password, per-process signing keys, and
// no demo.
type Options struct {
	// Environment selects each flag's per-environment settings. With
	// Environments, it names the default one (empty: the first listed).
	Environment string
	// Production marks the environment as production: the admin UI asks
	// for a confirmation and a reason before changes, and responses carry
	// no override-count header. With Environments, each says its own.
	Production bool
	// Environments, if set, are served from one server: each under
	// EnvPathPrefix with its own console, OFREP endpoints,
	// /features.json, snapshot and usage, and the default one also at the
	// unprefixed paths (docs/decisions/0162). Empty serves Environment
	// alone, as servers did before.
	Environments []Environment
	// ProtectedEnvironments are the environments where changes are
	// reviewed: a flag change by an editor (or a token without :admin)
	// becomes a change request that an admin other than its author
	// approves, and only turning a kill switch on applies at once, to be
	// reviewed after the fact (docs/decisions/0173). Nil protects the
	// server's production environments (Production, or those of
	// Environments marked so); an empty non-nil slice protects none.
	ProtectedEnvironments []string
	// APITokens grant access to the REST API and the snapshot endpoint;
	// none closes both. Each reaches its Environment's snapshot; on a
	// server with several environments the REST API needs a token for
	// AllEnvironments.
	APITokens []APIToken
	// OFREPKeys are the API keys OFREP clients present for the default
	// environment; with none here nor in EnvironmentKeys the OFREP
	// endpoints are open.
	OFREPKeys []string
	// EnvironmentKeys are further OFREP keys, each evaluating its own
	// environment. Once any environment has a key, one without is closed.
	EnvironmentKeys []OFREPKey

	// Source, if set, is where flags come from instead of the store: a
	// config file that is the source of truth (file.Source). The console
	// and the REST API then show flags read-only, saying FlagsFrom;
	// overrides, share links and the audit log still live in the store.
	Source flagon.StatusSource
	// FlagsFrom names Source for people, such as "the config file
	// flags.yaml".
	FlagsFrom string

	// Demo mounts the demo shop at / with its self-chosen identities, and
	// seeds an empty store with its flags. New refuses it for a
	// production environment and for PostgreSQL.
	Demo bool

	// AdminPassword is the shared admin password; empty generates one
	// (see Server.GeneratedPassword). People sign in to the console as the
	// users of the store (flagon users add); the shared password signs in
	// only while the store has no users, as the bootstrap admin "admin",
	// to create the first (docs/decisions/0170).
	AdminPassword string
	// OIDC, if set, offers OpenID Connect sign-in to the console beside
	// the users of the store (docs/decisions/0172). Its RedirectURL, if
	// empty, is PublicURL plus /admin/ plus admin.OIDCCallbackPath.
	OIDC *admin.OIDCOptions
	// AuthHeader, if set, believes the sign-in headers of an
	// authenticating proxy from the addresses it names
	// (admin.HeaderAuth); its Environment and Logger are the server's.
	AuthHeader *admin.HeaderOptions

	// Keys sign override cookies, headers, share links and console
	// sessions (see OpenKeyring). Nil means a per-process key: all of
	// them end with the process.
	Keys *flagonhttp.Keys

	// PublicURL is the URL browsers use, such as https://flags.example.com.
	// An https URL makes every cookie Secure, for a proxy that
	// terminates TLS; its host is accepted in Host headers.
	PublicURL string
	// AllowedHosts are further Host header values accepted (host, or
	// host:port). With neither these nor PublicURL every Host is
	// accepted; otherwise others get 421, which stops DNS rebinding.
	// Loopback names are always accepted.
	AllowedHosts []string
	// CORSOrigins are the origins of pages on other sites that may call
	// OFREP and /features.json from a browser ("*" for any); none sends
	// no CORS headers. Cookies are not sent cross-origin.
	CORSOrigins []string

	// TrustedProxies are the addresses whose X-Forwarded-For is believed,
	// for throttling and the audit log; none believes no one.
	TrustedProxies []netip.Prefix

	// AuditRetention is how long audit entries are kept; zero means
	// DefaultAuditRetention, negative forever.
	AuditRetention time.Duration
	// UsageRetention is how long hourly usage counts are kept; zero means
	// DefaultUsageRetention, negative forever.
	UsageRetention time.Duration
	// MetricsFlags caps the flags /metrics names in its per-flag
	// evaluation counters; zero means DefaultMetricsFlags, negative names
	// none (all are counted as flag="(other)").
	MetricsFlags int
	// AnonymousAuditRate is how many override-link entries a minute one
	// anonymous client may add to the audit log; zero means
	// DefaultAnonymousAuditRate.
	AnonymousAuditRate int
	// AnonymousAuditTotal is how many such entries an hour all anonymous
	// clients together may add; zero means DefaultAnonymousAuditTotal.
	AnonymousAuditTotal int

	// ScheduleInterval is how often the server applies the scheduled
	// changes that have fallen due (it also does at start); zero means
	// DefaultScheduleInterval, negative never. A server whose flags come
	// from Source applies none.
	ScheduleInterval time.Duration
	// Now is the server's clock for scheduled changes; nil means
	// time.Now.
	Now func() time.Time

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// StoreSource tunes how the server follows its store.
	StoreSource flagon.StoreSourceOptions
}

// A Server is a running `flagon serve`: a client following a store (or a
// config file), and the HTTP handler over both.
type Server struct {
	store   Store
	source  flagon.StatusSource
	closeFn []func() error
	client  *flagon.Client
	metrics *metrics
	handler http.Handler
	log     *slog.Logger
	cancel  context.CancelFunc
	now     func() time.Time
	// usageDone is closed when the server's own usage counts are written.
	usageDone chan struct{}

	// envs are the environments served, the default one first; multi
	// says Options.Environments listed them.
	envs  []*envServer
	multi bool

	generatedPassword string
	httpOpts          *flagonhttp.Options
	routes            []string // the patterns of the server's mux
}

// protectedEnvironments returns the environments opts protects: its
// ProtectedEnvironments, or else those of envs that are production.
func protectedEnvironments(opts *Options, envs []*envServer) []string {
	if opts.ProtectedEnvironments != nil {
		return opts.ProtectedEnvironments
	}
	var out []string
	for _, e := range envs {
		if e.Production && e.Name != "" {
			out = append(out, e.Name)
		}
	}
	return out
}

// ErrDemoInProduction is New's refusal to run the demo where it would
// undo the safety of production.
var ErrDemoInProduction = errors.New("the demo runs only outside production: its identities are cookies anyone can set")

// New starts following the store (or opts.Source) and builds the handler.
func New(ctx context.Context, st Store, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Server{store: st, metrics: newMetrics(), log: opts.Logger, now: opts.Now, multi: len(opts.Environments) > 0}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	envs, tokens, err := resolveEnvironments(opts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.envs = envs
	if opts.Demo {
		if err := demoAllowed(st, opts); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if err := seedDemo(ctx, st); err != nil {
			return nil, fmt.Errorf("server: seed demo flags: %w", err)
		}
	}
	publicURL, err := parsePublicURL(opts.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: public URL: %w", err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if err := s.follow(ctx, bg, st, opts); err != nil {
		cancel()
		return nil, err
	}
	// At debug level, the server logs each evaluation (flagon.Options.LogEvaluations).
	logEvals := s.log.Enabled(ctx, slog.LevelDebug)
	for _, e := range s.envs {
		e.client = flagon.NewClient(e.source, &flagon.Options{Logger: s.log, LogEvaluations: logEvals})
	}
	s.client = s.envs[0].client
	s.metrics.usage = newUsageCollector(s.client, st, opts.MetricsFlags, s.log)
	for _, e := range s.envs[1:] {
		s.metrics.usage.others = append(s.metrics.usage.others, e.client)
	}
	s.source.Subscribe(func(*flagon.Snapshot) { s.metrics.reloads.Add(1) })

	p := &parts{st: st, opts: opts, tokens: tokens, secure: flagonhttp.SecureAuto, clientIP: clientIPFunc(opts.TrustedProxies)}
	if publicURL != nil && publicURL.Scheme == "https" {
		p.secure = flagonhttp.SecureAlways
	}
	if opts.Keys == nil {
		s.log.Warn("flagon: no signing keys given; using a per-process key, so override cookies, share links and console sessions end with this process")
	}
	password := opts.AdminPassword
	if password == "" {
		password = admin.GeneratePassword()
		s.generatedPassword = password
	}
	p.protected = protectedEnvironments(opts, s.envs)
	p.apiStore = st
	if opts.Source != nil {
		p.readOnly = readOnlyNote(opts.FlagsFrom)
		p.apiStore = withDefinitionsFrom(st, s.source, p.readOnly)
	}
	for _, e := range s.envs {
		p.links = append(p.links, admin.EnvironmentLink{Name: e.Name, Production: e.Production, Path: envConsolePath(e.Name, e == s.envs[0])})
	}

	// fail undoes what New started before an error.
	fail := func(err error) (*Server, error) {
		cancel()
		for _, e := range s.envs {
			e.client.Close()
		}
		for _, fn := range s.closeFn {
			fn()
		}
		return nil, err
	}
	mux := &routeMux{ServeMux: http.NewServeMux()}
	oidcOpts, err := oidcOptions(opts.OIDC, publicURL)
	if err != nil {
		return fail(fmt.Errorf("server: OIDC: %w", err))
	}
	if p.auth, err = admin.NewPasswordAuth(password, &admin.PasswordOptions{
		Keys: opts.Keys, CookiePath: "/", Secure: p.secure, ClientIP: p.clientIP, Users: st, OIDC: oidcOpts,
	}); err != nil {
		return fail(fmt.Errorf("server: admin sign-in: %w", err))
	}
	if err := s.mount(mux, p, s.envs[0], true); err != nil {
		return fail(err)
	}
	s.metrics.auditDropped = s.envs[0].audit.dropped.Load
	rest := &api{store: p.apiStore, tokens: tokens, log: s.log, env: s.envs[0].Name, multi: s.multi, protected: p.protected}
	rest.register(mux)
	rest.registerSchedule(mux)
	rest.registerRequests(mux)
	rest.registerReads(mux, st, time.Now)
	mux.Handle("GET /healthz", health(s.client))
	mux.Handle("GET /metrics", s.metrics.handler(s.client))
	if s.multi {
		for _, e := range s.envs {
			e.mux = &routeMux{ServeMux: http.NewServeMux()}
			if err := s.mount(e.mux, p, e, false); err != nil {
				return fail(err)
			}
			mux.Handle(EnvPathPrefix+e.Name+"/", http.StripPrefix(strings.TrimSuffix(EnvPathPrefix, "/")+"/"+e.Name, e.mux))
		}
	}

	var hosts []string
	if publicURL != nil {
		hosts = append(hosts, publicURL.Host)
	}
	hosts = append(hosts, opts.AllowedHosts...)
	s.handler = hostCheck(hosts, mux)
	s.routes = mux.patterns

	if retention := cmp(opts.AuditRetention, DefaultAuditRetention); retention > 0 {
		go prune(bg, "the audit log", st.PruneAudit, retention, s.log)
	}
	s.usageDone = make(chan struct{})
	go func() {
		defer close(s.usageDone)
		s.metrics.usage.run(bg)
	}()
	if retention := cmp(opts.UsageRetention, DefaultUsageRetention); retention > 0 {
		go prune(bg, "usage", st.PruneUsage, retention, s.log)
	}
	if every := cmp(opts.ScheduleInterval, DefaultScheduleInterval); every > 0 && opts.Source == nil {
		go s.schedule(bg, every)
	}
	return s, nil
}

// parts is what every environment's endpoints share.
type parts struct {
	st       Store
	opts     *Options
	tokens   []APIToken
	secure   flagonhttp.SecureMode
	clientIP func(*http.Request) string
	auth     *admin.PasswordAuth // one sign-in; each console has its ForEnvironment
	apiStore Store
	readOnly string
	links    []admin.EnvironmentLink
	// protected are the environments whose changes are reviewed.
	protected []string
}

// envConsolePath is where the console of an environment is.
func envConsolePath(env string, def bool) string {
	if def {
		return "/admin/"
	}
	return EnvPathPrefix + env + "/admin/"
}

// mount registers e's endpoints on mux at the paths of a single
// environment: the console, OFREP, the snapshot and its events, usage
// reports, the override link and /features.json. On the root mux of a
// server with several environments, requests whose credential is for
// another environment go to that one's.
func (s *Server) mount(mux *routeMux, p *parts, e *envServer, root bool) error {
	opts := p.opts
	auth := p.auth.ForEnvironment(e.Name)
	authorize := auth.Authorize
	if opts.AuthHeader != nil {
		ho := *opts.AuthHeader
		ho.Environment, ho.Logger = e.Name, s.log
		authorize = admin.NewHeaderAuth(&ho).Then(auth.Authorize)
	}
	e.audit = &browserAudit{
		log: p.st, logger: s.log, env: e.Name, who: authorize, clientIP: p.clientIP,
		limit: newRateLimit(cmp(opts.AnonymousAuditRate, DefaultAnonymousAuditRate), time.Minute, maxRateClients),
		total: newRateLimit(cmp(opts.AnonymousAuditTotal, DefaultAnonymousAuditTotal), time.Hour, 1),
		now:   time.Now,
	}
	httpOpts := &flagonhttp.Options{
		Keys:          opts.Keys,
		CookieSecure:  p.secure,
		CORSOrigins:   opts.CORSOrigins,
		Production:    e.Production,
		ManageURL:     envConsolePath(e.Name, root) + "overrides",
		Logger:        s.log,
		TokenRevoked:  flagonhttp.TokenRevokedIn(p.st),
		UserOverrides: admin.UserOverrides(p.st, authorize),
		OnOverride:    e.audit.onOverride,
		// Who may override staff-policy flags: whoever is signed in to
		// the console, never a value a visitor sends.
		CanOverride: func(r *http.Request, f flagon.Flag) bool {
			p, err := authorize(r)
			return err == nil && p.Role > admin.RoleNone
		},
	}
	if opts.Demo {
		httpOpts.Context = demo.Context
		httpOpts.CanOverride = func(r *http.Request, f flagon.Flag) bool {
			p, err := authorize(r)
			return err == nil && p.Role > admin.RoleNone || demo.CanOverride(r, f)
		}
	}
	if root {
		s.httpOpts = httpOpts
	}
	consoleOpts := &admin.Options{
		Client: e.client, Store: p.st, Audit: p.st, UserOverrides: p.st, ShareTokens: p.st,
		Usage: p.st, Users: p.st, Schedules: p.st,
		Authorize: authorize, SignIn: auth, Overrides: httpOpts,
		Environment: e.Name, Production: e.Production, Logger: s.log,
		ChangeRequests: p.st, ProtectedEnvironments: p.protected,
	}
	if s.multi {
		consoleOpts.EnvironmentLinks = p.links
	}
	if opts.Source != nil {
		consoleOpts.Store, consoleOpts.ChangeRequests = nil, nil
		consoleOpts.ReadOnlyNote = p.readOnly
	}
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(consoleOpts)))
	mux.Handle("GET /admin", http.RedirectHandler(envConsolePath(e.Name, root), http.StatusMovedPermanently))

	route := func(h http.Handler) http.Handler { return h }
	if root && s.multi {
		route = func(h http.Handler) http.Handler { return s.byCredential(p.tokens, h) }
	}
	// OFREP requests carry their own context in the body; the middleware
	// adds the overrides of a signed Flagon-Overrides header or override
	// cookie, which the OFREP handler applies.
	ofrepOpts := *httpOpts
	ofrepOpts.Context = nil
	oo := &ofrep.Options{APIKeys: e.keys, Logger: s.log, CORSOrigins: opts.CORSOrigins}
	if !root {
		oo.EventsURL = EnvPathPrefix + e.Name + ofrep.EventsPath
	}
	var evaluate http.Handler = ofrep.Handler(e.client, oo)
	if len(e.keys) == 0 && s.anyOFREPKeys() {
		evaluate = closedOFREP(e.Name)
	}
	mux.Handle("/ofrep/", route(flagonhttp.Middleware(e.client, &ofrepOpts)(evaluate)))
	snapshots := route(requireEnvToken(p.tokens, e.Name, "the snapshot endpoint", remote.Handler(e.source)))
	mux.Handle("GET "+remote.SnapshotPath, snapshots)
	mux.Handle("GET "+remote.EventsPath, snapshots)
	reports := &api{store: p.apiStore, tokens: p.tokens, log: s.log, env: e.Name, multi: s.multi}
	mux.Handle("POST /api/v1/usage", route(reports.authEnv(reports.usageReport(p.st, time.Now))))

	// The override link and /features.json, for browsers; the demo shop
	// at / in demo mode, else a pointer to the console.
	site := http.NewServeMux()
	flagonhttp.Mount(site, e.client, httpOpts)
	var front http.Handler = flagonhttp.Middleware(e.client, httpOpts)(site)
	if opts.Demo {
		demo.Routes(site, e.client)
		front = demo.WithVisitor(front)
	} else {
		site.Handle("GET /{$}", http.RedirectHandler(envConsolePath(e.Name, root), http.StatusSeeOther))
	}
	mux.Handle("/", front)
	return nil
}

// anyOFREPKeys reports whether any environment has OFREP keys: then an
// environment without its own is closed rather than open.
func (s *Server) anyOFREPKeys() bool {
	for _, e := range s.envs {
		if len(e.keys) > 0 {
			return true
		}
	}
	return false
}

// closedOFREP answers the OFREP endpoints of an environment that has no
// keys while others do: no key opens it.
func closedOFREP(env string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ofrep"`)
		http.Error(w, "no OFREP key is configured for environment "+env, http.StatusUnauthorized)
	})
}

// follow sets each environment's source: opts.Source, or a source over
// the store (one for every environment, seen through each).
func (s *Server) follow(ctx, bg context.Context, st Store, opts *Options) error {
	if opts.Source != nil {
		s.source = opts.Source
		s.envs[0].source = s.source
		return nil
	}
	sso := opts.StoreSource
	sso.Environment = s.envs[0].Name
	if s.multi {
		sso.Environment = ""
	}
	if sso.Logger == nil {
		sso.Logger = s.log
	}
	src, err := flagon.NewStoreSource(ctx, st, &sso)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.closeFn = append(s.closeFn, src.Close)
	for _, e := range s.envs {
		e.source = src
		if s.multi {
			e.source = newEnvSource(bg, src, e.Name, s.log)
		}
	}
	s.source = s.envs[0].source
	return nil
}

// demoAllowed refuses the demo in production and on PostgreSQL, a store
// that is shared, so most likely a real one.
func demoAllowed(st Store, opts *Options) error {
	env := strings.ToLower(opts.Environment)
	switch {
	case opts.Production || env == "production" || env == "prod":
		return ErrDemoInProduction
	case isPostgres(st):
		return fmt.Errorf("%w; and not on PostgreSQL, which is shared (run the demo on the embedded store)", ErrDemoInProduction)
	}
	return nil
}

func isPostgres(st Store) bool {
	_, ok := st.(*postgres.Store)
	return ok
}

// parsePublicURL checks a public URL: absolute http or https, with a
// host.
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q: want an absolute http or https URL, such as https://flags.example.com", s)
	}
	return u, nil
}

// oidcOptions completes o: its redirect URL defaults to the console's
// callback under the public URL, which is then required.
func oidcOptions(o *admin.OIDCOptions, publicURL *url.URL) (*admin.OIDCOptions, error) {
	if o == nil {
		return nil, nil
	}
	c := *o
	if c.RedirectURL == "" {
		if publicURL == nil {
			return nil, errors.New("set the public URL (or the redirect URL): the identity provider sends browsers back to it")
		}
		c.RedirectURL = strings.TrimSuffix(publicURL.String(), "/") + "/admin/" + admin.OIDCCallbackPath
	}
	return &c, nil
}

// readOnlyNote says where flags come from in config-file mode.
func readOnlyNote(from string) string {
	if from == "" {
		from = "the config file"
	}
	return "flags come from " + from + ", the source of truth: change them there (it reloads on save); overrides and the audit log still work here"
}

// cmp returns v, or def when v is zero.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// seedDemo writes the demo definitions into st if it has no flags yet.
func seedDemo(ctx context.Context, st Store) error {
	flags, err := st.Flags(ctx)
	if err != nil {
		return err
	}
	if len(flags) > 0 {
		return nil
	}
	_, err = Import(ctx, st, demo.Definitions(), flagon.Change{Actor: "flagon", Reason: "demo flags for a new store"})
	return err
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// GeneratedPassword returns the admin password New generated because
// Options named none, or "".
func (s *Server) GeneratedPassword() string { return s.generatedPassword }

// Client returns the client that evaluates the flags.
func (s *Server) Client() *flagon.Client { return s.client }

// Source returns the source the client follows: the store's, or
// Options.Source.
func (s *Server) Source() flagon.StatusSource { return s.source }

// Close stops following the store and pruning the audit log. It closes
// neither the store nor Options.Source.
func (s *Server) Close() error {
	s.cancel()
	<-s.usageDone // the last of the server's own usage is in the store
	s.client.Close()
	var errs []error
	for _, fn := range s.closeFn {
		errs = append(errs, fn())
	}
	return errors.Join(errs...)
}
