package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/server"
)

// DefaultAddr is where flagon serve listens when told nothing else: the
// loopback interface only.
const DefaultAddr = "127.0.0.1:8080"

// shutdownTimeout bounds how long serve waits for requests in flight after
// SIGTERM.
const shutdownTimeout = 10 * time.Second

// streamGrace is how long after shutdown begins event streams are told to
// end.
const streamGrace = 2 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("serve", "", stderr)
	var sf storeFlags
	sf.register(fs, true)
	addr := fs.String("addr", env("ADDR", DefaultAddr), envHelp("ADDR", "listen address"))
	envList := fs.String("envs", env("ENVS", ""), envHelp("ENVS", "serve several environments from this server, name[:production],… (production and prod are production-like by name); each under /env/<name>/, the first (or -env) also at /. Tokens and OFREP keys name theirs: name:secret:ro|rw:env (or :* for all), env:key"))
	production := fs.Bool("production", envBool("PRODUCTION", false), envHelp("PRODUCTION", "treat the environment as production (confirmations, no debug headers); on by default when -env is production"))
	apiTokens := registerSecret(fs, "api-tokens", "API_TOKENS", "REST API and snapshot tokens, name:secret[:ro|rw[:environment]],…; none closes both")
	ofrepKeys := registerSecret(fs, "ofrep-keys", "OFREP_KEYS", "API keys for the OFREP endpoints, [environment:]key,…; none leaves them open")
	password := registerSecret(fs, "admin-password", "ADMIN_PASSWORD", "the shared admin password, which signs in only while the store has no users; empty generates one and prints it")
	cookieKeys := registerSecret(fs, "cookie-keys", "COOKIE_KEYS", "signing keys, id:secret,… (first signs, all verify); empty keeps generated keys in the store (see flagon keys)")
	kek := registerSecret(fs, "", "KEY_ENCRYPTION_KEY", "")
	protected := fs.String("protected", env("PROTECTED", "default"), envHelp("PROTECTED", "environments whose flag changes by editors wait for an admin's approval, comma-separated; \"default\" protects the production-like environments, \"none\" protects none"))
	demoMode := fs.Bool("demo", envBool("DEMO", false), envHelp("DEMO", "demo mode: the demo shop at / with self-chosen identities, and demo flags in an empty store; refused with -env production or PostgreSQL"))
	publicURL := fs.String("public-url", env("PUBLIC_URL", ""), envHelp("PUBLIC_URL", "the URL browsers use, such as https://flags.example.com: https makes cookies Secure, and its host is the one accepted"))
	allowedHosts := fs.String("allowed-hosts", env("ALLOWED_HOSTS", ""), envHelp("ALLOWED_HOSTS", "further Host header values accepted, comma-separated; loopback names always are"))
	corsOrigins := fs.String("cors-origins", env("CORS_ORIGINS", ""), envHelp("CORS_ORIGINS", "origins of pages on other sites that may call OFREP and /features.json from a browser, comma-separated (* for any)"))
	trustedProxies := fs.String("trusted-proxies", env("TRUSTED_PROXIES", ""), envHelp("TRUSTED_PROXIES", "CIDR prefixes or addresses of proxies whose X-Forwarded-For is believed, comma-separated"))
	sso := registerSSO(fs)
	metricsFlags := fs.Int("metrics-flags", server.DefaultMetricsFlags, "how many flags /metrics names in its per-flag evaluation counters; the rest are counted as flag=\"(other)\"")
	usageRetention := fs.String("usage-retention", env("USAGE_RETENTION", "90d"), envHelp("USAGE_RETENTION", "how long hourly flag usage counts are kept, such as 90d; 0 keeps them forever"))
	auditRetention := fs.String("audit-retention", env("AUDIT_RETENTION", "90d"), envHelp("AUDIT_RETENTION", "how long audit entries are kept, such as 90d or 2160h; 0 keeps them forever"))
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), envHelp("LOG_LEVEL", "debug, info, warn or error"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: -log-level: %v", errUsage, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	warnStorePassword(fs, sf.store, stderr)
	secrets := map[*secret]string{}
	for _, sec := range []*secret{apiTokens, ofrepKeys, password, cookieKeys, kek, sso.clientSecret} {
		v, err := sec.resolve(fs, stderr)
		if err != nil {
			return err
		}
		secrets[sec] = v
	}
	tokens, err := server.ParseAPITokens(secrets[apiTokens])
	if err != nil {
		return fmt.Errorf("%w: API tokens: %v", errUsage, err)
	}
	proxies, err := server.ParsePrefixes(*trustedProxies)
	if err != nil {
		return fmt.Errorf("%w: -trusted-proxies: %v", errUsage, err)
	}
	retention, err := parseRetention(*auditRetention)
	if err != nil {
		return fmt.Errorf("%w: -audit-retention: %v", errUsage, err)
	}
	usageKeep, err := parseRetention(*usageRetention)
	if err != nil {
		return fmt.Errorf("%w: -usage-retention: %v", errUsage, err)
	}
	if sf.env == "production" {
		*production = true
	}
	envs, err := server.ParseEnvironments(*envList)
	if err != nil {
		return fmt.Errorf("%w: -envs: %v", errUsage, err)
	}
	if len(envs) > 0 && *production && sf.env != "production" {
		return fmt.Errorf("%w: -production marks the one environment of -env; with -envs, mark each as name:production", errUsage)
	}
	oidcOpts, headerOpts, err := sso.options(secrets[sso.clientSecret])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var box *server.SecretBox
	if secrets[kek] != "" {
		if box, err = server.NewSecretBox(secrets[kek]); err != nil {
			return fmt.Errorf("FLAGON_KEY_ENCRYPTION_KEY: %w", err)
		}
	}

	st, err := server.OpenStore(ctx, sf.store)
	if err != nil {
		return err
	}
	defer st.Close()
	ring, err := server.OpenKeyring(ctx, st, &server.KeyringOptions{Configured: secrets[cookieKeys], Box: box, Logger: logger})
	if err != nil {
		return err
	}
	defer ring.Close()

	opts := &server.Options{
		Environment:    sf.env,
		Production:     *production,
		APITokens:      tokens,
		Environments:   envs,
		Demo:           *demoMode,
		Logger:         logger,
		AdminPassword:  secrets[password],
		Keys:           ring.Keys(),
		PublicURL:      *publicURL,
		AllowedHosts:   splitList(*allowedHosts),
		CORSOrigins:    splitList(*corsOrigins),
		TrustedProxies: proxies,
		AuditRetention: retention,
		UsageRetention: usageKeep,
		MetricsFlags:   metricsCap(*metricsFlags),
		OIDC:           oidcOpts,
		AuthHeader:     headerOpts,
	}
	if len(envs) > 0 {
		opts.EnvironmentKeys = server.ParseOFREPKeys(secrets[ofrepKeys], envs)
	} else {
		opts.OFREPKeys = splitList(secrets[ofrepKeys])
	}
	if opts.ProtectedEnvironments, err = parseProtected(*protected); err != nil {
		return err
	}
	if sf.config != "" {
		// The config file is the source of truth: watched and reloaded;
		// the store keeps overrides, share links and the audit log.
		src, err := file.New(sf.config, &file.Options{Environment: sf.env, Logger: logger})
		if err != nil {
			return err
		}
		defer src.Close()
		opts.Source, opts.FlagsFrom = src, "the config file "+sf.config
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if loopbackOnly(ln.Addr()) && *publicURL == "" && *allowedHosts == "" {
		// Listening on loopback only, accept loopback Host names only:
		// a page on another site cannot reach this server by DNS
		// rebinding.
		opts.AllowedHosts = []string{"localhost"}
	}
	srv, err := server.New(ctx, st, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()

	b := &banner{url: "http://" + ln.Addr().String(), from: server.Redact(sf.store), demo: *demoMode,
		envs: envs, generated: srv.GeneratedPassword(), oidc: oidcOpts,
		ofrepKeys: len(opts.OFREPKeys) > 0 || len(opts.EnvironmentKeys) > 0}
	if *publicURL != "" {
		b.url = strings.TrimSuffix(*publicURL, "/")
	}
	if sf.config != "" {
		b.from = sf.config + " (overrides and audit in " + b.from + ")"
	}
	if headerOpts != nil {
		b.proxies = *sso.proxies
	}
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	b.users = len(users)
	b.print(stdout)

	return serveHTTP(ctx, ln, srv.Handler(), logger)
}

// parseProtected reads -protected: nil for "default" (the production-like
// environments), none for "none", else the environments named.
func parseProtected(s string) ([]string, error) {
	switch s {
	case "default":
		return nil, nil
	case "none":
		return []string{}, nil
	}
	envs := splitList(s)
	for _, e := range envs {
		if !flagon.ValidKey(e) {
			return nil, fmt.Errorf("%w: -protected: %q is not an environment name", errUsage, e)
		}
	}
	return envs, nil
}

// banner is what flagon serve prints as it starts: where it serves, from
// what, and how to sign in and evaluate.
type banner struct {
	url, from string
	demo      bool
	envs      []server.Environment
	users     int    // users in the store
	generated string // the admin password generated for this run
	oidc      *admin.OIDCOptions
	proxies   string // those believed about who signed in, if any
	ofrepKeys bool   // OFREP needs a key
}

func (b *banner) print(w io.Writer) {
	fmt.Fprintf(w, "flagon %s serving %s from %s\n", version(), b.url, b.from)
	if b.demo {
		fmt.Fprintf(w, "  demo page  %s/\n", b.url)
	}
	fmt.Fprintf(w, "  admin UI   %s/admin/\n", b.url)
	switch {
	case b.users > 0:
		fmt.Fprintf(w, "  sign in    as one of the %d users of the store (flagon users list)\n", b.users)
	case b.generated != "":
		fmt.Fprintf(w, "  admin password (generated for this run; set FLAGON_ADMIN_PASSWORD or FLAGON_ADMIN_PASSWORD_FILE to choose one): %s\n", b.generated)
		fmt.Fprintln(w, "  no users yet: the admin password signs in until you add one (flagon users add, or the console's Accounts page)")
	default:
		fmt.Fprintln(w, "  no users yet: the shared password (FLAGON_ADMIN_PASSWORD) signs in until you add one (flagon users add, or the console's Accounts page)")
	}
	for _, e := range b.envs {
		fmt.Fprintf(w, "  environment %s  %s/env/%s/ (console %s/env/%s/admin/)\n", e.Name, b.url, e.Name, b.url, e.Name)
	}
	if b.oidc != nil {
		fmt.Fprintf(w, "  single sign-on through %s (redirect URI %s/admin/%s)\n", b.oidc.Issuer, b.url, admin.OIDCCallbackPath)
	}
	if b.proxies != "" {
		fmt.Fprintf(w, "  proxy sign-in headers believed from %s\n", b.proxies)
	}
	auth := ""
	if b.ofrepKeys {
		auth = ` -H "Authorization: Bearer $FLAGON_OFREP_KEY"`
	}
	fmt.Fprintf(w, "  evaluate   curl -s -X POST%s -H 'Content-Type: application/json' -d '{\"context\":{\"targetingKey\":\"user-1\"}}' %s/ofrep/v1/evaluate/flags\n", auth, b.url)
	fmt.Fprintf(w, "  health     %s/healthz   metrics %s/metrics\n", b.url, b.url)
}

// serveHTTP serves h on ln until ctx is done, then shuts down: requests
// in flight get shutdownTimeout to finish, event streams streamGrace.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	// Long-lived responses (event streams) end when shutdown begins, after
	// a grace period in which ordinary requests finish undisturbed.
	hs.RegisterOnShutdown(func() { time.AfterFunc(streamGrace, cancelBase) })
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("flagon: shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopbackOnly reports whether a listener's address is a loopback one.
func loopbackOnly(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// parseRetention reads the audit retention: a duration such as 90d or
// 2160h; 0 (or "forever") keeps entries forever.
func parseRetention(s string) (time.Duration, error) {
	switch s {
	case "0", "forever", "":
		return -1, nil
	}
	d, err := flagon.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return -1, nil
	}
	return d, nil
}

func envBool(name string, def bool) bool {
	v, ok := os.LookupEnv("FLAGON_" + name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// metricsCap maps -metrics-flags to server.Options.MetricsFlags, where
// zero means the default: 0 (or less) names no flag.
func metricsCap(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
