package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/server"
)

// DefaultRelayAddr is where flagon relay listens when told nothing else:
// the loopback interface only.
const DefaultRelayAddr = "127.0.0.1:8081"

func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("relay", "", stderr)
	upstream := fs.String("upstream", env("UPSTREAM", ""), envHelp("UPSTREAM", "the URL of the Flagon server (or relay) to follow, such as https://flags.internal"))
	addr := fs.String("addr", env("ADDR", DefaultRelayAddr), envHelp("ADDR", "listen address"))
	cacheFile := fs.String("cache-file", env("CACHE_FILE", ""), envHelp("CACHE_FILE", "file keeping the last snapshot, served (stale) when the relay starts while upstream is down"))
	envName := fs.String("env", env("ENV", ""), envHelp("ENV", "the environment whose flag settings to serve; empty means the upstream's"))
	upstreamToken := registerSecret(fs, "upstream-token", "UPSTREAM_TOKEN", "the API token sent upstream; a read-only one is enough")
	apiTokens := registerSecret(fs, "api-tokens", "API_TOKENS", "tokens of the relay's own snapshot endpoint, for relays and applications that follow it, name:secret[:ro],…; none closes it")
	ofrepKeys := registerSecret(fs, "ofrep-keys", "OFREP_KEYS", "API keys for the OFREP endpoints, comma-separated; none leaves them open")
	cookieKeys := registerSecret(fs, "cookie-keys", "COOKIE_KEYS", "the upstream server's signing keys, id:secret,…, to honour the override cookies and headers it signs; empty ignores them")
	allowedHosts := fs.String("allowed-hosts", env("ALLOWED_HOSTS", ""), envHelp("ALLOWED_HOSTS", "Host header values accepted, comma-separated; loopback names always are"))
	corsOrigins := fs.String("cors-origins", env("CORS_ORIGINS", ""), envHelp("CORS_ORIGINS", "origins of pages on other sites that may call OFREP and /features.json from a browser, comma-separated (* for any)"))
	metricsFlags := fs.Int("metrics-flags", server.DefaultMetricsFlags, "how many flags /metrics names in its per-flag evaluation counters; the rest are counted as flag=\"(other)\"")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), envHelp("LOG_LEVEL", "debug, info, warn or error"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *upstream == "" {
		return fmt.Errorf("%w: -upstream (or FLAGON_UPSTREAM) is required: the URL of the Flagon server to follow", errUsage)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: -log-level: %v", errUsage, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	secrets := map[*secret]string{}
	for _, sec := range []*secret{upstreamToken, apiTokens, ofrepKeys, cookieKeys} {
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
	opts := &server.RelayOptions{
		UpstreamToken: secrets[upstreamToken],
		CacheFile:     *cacheFile,
		Environment:   *envName,
		APITokens:     tokens,
		OFREPKeys:     splitList(secrets[ofrepKeys]),
		AllowedHosts:  splitList(*allowedHosts),
		CORSOrigins:   splitList(*corsOrigins),
		MetricsFlags:  metricsCap(*metricsFlags),
		Logger:        logger,
	}
	if secrets[cookieKeys] != "" {
		if opts.Keys, err = flagonhttp.ParseKeys(secrets[cookieKeys]); err != nil {
			return fmt.Errorf("FLAGON_COOKIE_KEYS: %w", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if loopbackOnly(ln.Addr()) && *allowedHosts == "" {
		// As serve: on loopback, accept loopback Host names only.
		opts.AllowedHosts = []string{"localhost"}
	}
	relay, err := server.NewRelay(ctx, *upstream, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer relay.Close()

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "flagon %s serving %s as a read-only relay of %s\n", version(), url, server.Redact(*upstream))
	fmt.Fprintf(stdout, "  evaluate   %s/ofrep/v1/evaluate/flags   features %s/features.json\n", url, url)
	fmt.Fprintf(stdout, "  follow     %s/api/v1/snapshot (with a token from FLAGON_API_TOKENS)\n", url)
	fmt.Fprintf(stdout, "  health     %s/healthz   metrics %s/metrics\n", url, url)
	return serveHTTP(ctx, ln, relay.Handler(), logger)
}
