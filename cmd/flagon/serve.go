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
	production := fs.Bool("production", envBool("PRODUCTION", false), envHelp("PRODUCTION", "treat the environment as production (confirmations, no debug headers); on by default when -env is production"))
	apiTokens := fs.String("api-tokens", env("API_TOKENS", ""), envHelp("API_TOKENS", "REST API tokens, name:secret[:ro],…; none closes the API"))
	ofrepKeys := fs.String("ofrep-keys", env("OFREP_KEYS", ""), envHelp("OFREP_KEYS", "API keys for the OFREP endpoints, comma-separated; none leaves them open"))
	password := fs.String("admin-password", env("ADMIN_PASSWORD", ""), envHelp("ADMIN_PASSWORD", "the admin UI's sign-in password; empty generates one and prints it"))
	cookieKeys := fs.String("cookie-keys", env("COOKIE_KEYS", ""), envHelp("COOKIE_KEYS", "override-cookie signing keys, id:secret,… (first signs, all verify); empty generates one per start"))
	demo := fs.Bool("demo", envBool("DEMO", true), envHelp("DEMO", "serve the demo page at / and seed an empty store with demo flags"))
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
	tokens, err := server.ParseAPITokens(*apiTokens)
	if err != nil {
		return fmt.Errorf("%w: -api-tokens: %v", errUsage, err)
	}
	if sf.env == "production" {
		*production = true
	}

	st, err := server.OpenStore(ctx, sf.store)
	if err != nil {
		return err
	}
	defer st.Close()
	if sf.config != "" {
		data, err := os.ReadFile(sf.config)
		if err != nil {
			return err
		}
		defs, err := file.Parse(sf.config, data)
		if err != nil {
			return err
		}
		n, err := server.Import(ctx, st, defs, flagon.Change{Actor: "flagon serve", Reason: "seeded from " + sf.config, Environment: sf.env})
		if err != nil {
			return fmt.Errorf("seed from %s: %w", sf.config, err)
		}
		logger.Info("flagon: seeded the store from the config file", "file", sf.config, "changed", n)
	}

	opts := &server.Options{
		Environment:   sf.env,
		Production:    *production,
		APITokens:     tokens,
		OFREPKeys:     splitList(*ofrepKeys),
		Demo:          *demo,
		Logger:        logger,
		AdminPassword: *password,
		CookieKeys:    *cookieKeys,
	}
	srv, err := server.New(ctx, st, opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "flagon %s serving %s from %s\n", version(), url, server.Redact(sf.store))
	if *demo {
		fmt.Fprintf(stdout, "  demo page  %s/\n", url)
	}
	fmt.Fprintf(stdout, "  admin UI   %s/admin/\n", url)
	if srv.GeneratedPassword() != "" {
		fmt.Fprintf(stdout, "  admin password (generated for this run; set FLAGON_ADMIN_PASSWORD to choose one): %s\n", srv.GeneratedPassword())
	}
	fmt.Fprintf(stdout, "  OFREP      %s/ofrep/v1/evaluate/flags\n", url)
	fmt.Fprintf(stdout, "  health     %s/healthz   metrics %s/metrics\n", url, url)

	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           srv.Handler(),
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
