package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/flagon/flagon"
)

// EnvPathPrefix is where a server with several environments serves each
// one: /env/{name}/ followed by any path a single-environment server
// serves for its environment (/env/staging/ofrep/v1/evaluate/flags,
// /env/staging/features.json, /env/staging/api/v1/snapshot,
// /env/staging/admin/). The unprefixed paths serve the default
// environment, or the one a request's credential is for.
const EnvPathPrefix = "/env/"

// An Environment is one of the environments a server serves.
type Environment struct {
	// Name selects each flag's per-environment settings, such as
	// "staging": lowercase letters, digits, '-', '_' and '.'.
	Name string
	// Production makes the console ask for a confirmation and a reason
	// before changes, and drops the override-count header, as
	// Options.Production does for a single environment.
	Production bool
}

// An OFREPKey is an OFREP API key that evaluates one environment.
type OFREPKey struct {
	// Environment is the environment the key evaluates; empty means the
	// default one.
	Environment string
	Key         string
}

// ParseEnvironments reads "name[:production],…", the form -envs takes:
// production marks an environment production-like, and so does the name
// production or prod itself.
func ParseEnvironments(s string) ([]Environment, error) {
	var out []Environment
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, mode, _ := strings.Cut(part, ":")
		e := Environment{Name: name, Production: name == "production" || name == "prod"}
		switch mode {
		case "":
		case "production":
			e.Production = true
		default:
			return nil, fmt.Errorf("environment %q: unknown mode %q (want production)", name, mode)
		}
		out = append(out, e)
	}
	return out, nil
}

// ParseOFREPKeys reads the OFREP keys of FLAGON_OFREP_KEYS for a server
// serving envs: "environment:key" scopes a key to one of envs; anything
// else, the only form before servers had several environments, is a key
// for the default one.
func ParseOFREPKeys(s string, envs []Environment) []OFREPKey {
	var out []OFREPKey
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k := OFREPKey{Key: part}
		if env, key, ok := strings.Cut(part, ":"); ok && key != "" {
			for _, e := range envs {
				if e.Name == env {
					k = OFREPKey{Environment: env, Key: key}
				}
			}
		}
		out = append(out, k)
	}
	return out
}

// envServer is one environment of a server: a client following the
// store's flags with that environment's settings, and its credentials.
type envServer struct {
	Environment
	source flagon.StatusSource
	client *flagon.Client
	keys   []string  // its OFREP keys
	mux    *routeMux // its endpoints at single-environment paths; nil for a single environment
	audit  *browserAudit
}

// resolveEnvironments returns the environments opts serve, the default
// one first, and the API tokens and OFREP keys with every environment
// named.
func resolveEnvironments(opts *Options) ([]*envServer, []APIToken, error) {
	list := opts.Environments
	if len(list) == 0 {
		list = []Environment{{Name: opts.Environment, Production: opts.Production}}
	} else if opts.Source != nil {
		return nil, nil, errors.New("a config file serves one environment: use -env with -config, or the store for several")
	} else if opts.Demo {
		return nil, nil, errors.New("the demo serves one environment: use -env with -demo")
	}
	def := opts.Environment
	if def == "" {
		def = list[0].Name
	}
	var envs []*envServer
	seen := map[string]bool{}
	for _, e := range list {
		if len(opts.Environments) > 0 && !flagon.ValidKey(e.Name) {
			return nil, nil, fmt.Errorf("environment %q: want lowercase letters, digits, '-', '_' or '.'", e.Name)
		}
		if seen[e.Name] {
			return nil, nil, fmt.Errorf("environment %q: listed twice", e.Name)
		}
		seen[e.Name] = true
		es := &envServer{Environment: e}
		if e.Name == def {
			envs = append([]*envServer{es}, envs...)
		} else {
			envs = append(envs, es)
		}
	}
	if !seen[def] {
		return nil, nil, fmt.Errorf("default environment %q: not one of the environments served", def)
	}
	tokens := make([]APIToken, len(opts.APITokens))
	for i, t := range opts.APITokens {
		if t.Environment == "" {
			t.Environment = def
		}
		if t.Environment != AllEnvironments && !seen[t.Environment] {
			return nil, nil, fmt.Errorf("api token %q: environment %q is not served (serving %s)", t.Name, t.Environment, envNames(envs))
		}
		tokens[i] = t
	}
	envs[0].keys = append(envs[0].keys, opts.OFREPKeys...)
	for _, k := range opts.EnvironmentKeys {
		name := k.Environment
		if name == "" {
			name = def
		}
		i := envIndex(envs, name)
		if i < 0 {
			return nil, nil, fmt.Errorf("OFREP key for environment %q: not served (serving %s)", name, envNames(envs))
		}
		envs[i].keys = append(envs[i].keys, k.Key)
	}
	return envs, tokens, nil
}

func envIndex(envs []*envServer, name string) int {
	for i, e := range envs {
		if e.Name == name {
			return i
		}
	}
	return -1
}

func envNames(envs []*envServer) string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// requireEnvToken serves next only to requests that present a token for
// env (or for every environment), read-only or not.
func requireEnvToken(tokens []APIToken, env, what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := authenticate(tokens, r, what)
		if err == nil {
			err = tokenReaches(tok, env)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenReaches refuses a token that is for another environment than env.
func tokenReaches(tok *APIToken, env string) error {
	if tok.Environment == AllEnvironments || tok.Environment == env {
		return nil
	}
	return newError(errForbidden, "token %q is for environment %q, not %q", tok.Name, tok.Environment, env)
}

// byCredential routes a request on an unprefixed path to the environment
// its API token or OFREP key is for, when that is not the default one,
// so that an application needs only its key. Requests without such a
// credential go to def.
func (s *Server) byCredential(tokens []APIToken, def http.Handler) http.Handler {
	type secret struct {
		sum [sha256.Size]byte
		env *envServer
	}
	var secrets []secret
	for _, e := range s.envs[1:] {
		for _, k := range e.keys {
			secrets = append(secrets, secret{sha256.Sum256([]byte(k)), e})
		}
		for _, t := range tokens {
			if t.Environment == e.Name {
				secrets = append(secrets, secret{sha256.Sum256([]byte(t.Secret)), e})
			}
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented := r.Header.Get("X-API-Key")
		if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			presented = strings.TrimSpace(tok)
		}
		if presented != "" {
			sum := sha256.Sum256([]byte(presented))
			var found *envServer
			for _, sec := range secrets {
				if subtle.ConstantTimeCompare(sum[:], sec.sum[:]) == 1 && found == nil {
					found = sec.env
				}
			}
			if found != nil {
				found.mux.ServeHTTP(w, r)
				return
			}
		}
		def.ServeHTTP(w, r)
	})
}

// envSource is one environment's view of a source that follows every
// environment: each snapshot with every flag's settings for that
// environment only, so that what it serves (the snapshot endpoint
// above all) shows nothing of the others.
type envSource struct {
	flagon.Publisher
	base flagon.StatusSource
	env  string
	log  *slog.Logger

	mu   sync.Mutex
	last *flagon.Snapshot // of base, the last applied
}

// newEnvSource follows base for env until ctx is done.
func newEnvSource(ctx context.Context, base flagon.StatusSource, env string, log *slog.Logger) *envSource {
	s := &envSource{base: base, env: env, log: log}
	unsubscribe := base.Subscribe(s.apply)
	context.AfterFunc(ctx, unsubscribe)
	if snap := base.Snapshot(); snap != nil {
		s.apply(snap)
	}
	return s
}

// Status implements flagon.StatusSource: the base source's.
func (s *envSource) Status() flagon.Status { return s.base.Status() }

// apply publishes snap as seen from s.env.
func (s *envSource) apply(snap *flagon.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap == s.last {
		return
	}
	s.last = snap
	out, err := projectSnapshot(snap, s.env)
	if err != nil {
		s.log.Error("flagon: compile the flags of an environment; keeping its last snapshot", "environment", s.env, "err", err)
		s.SetStale(err)
		return
	}
	s.Publish(out)
}

// projectSnapshot returns snap for env: every flag with that environment's
// settings and no others, under the same revision.
func projectSnapshot(snap *flagon.Snapshot, env string) (*flagon.Snapshot, error) {
	defs := snap.Definitions()
	flags := make([]flagon.Flag, len(defs.Flags))
	for i, f := range defs.Flags {
		flags[i] = f.In(env)
	}
	return flagon.NewSnapshot(flagon.Definitions{Audiences: defs.Audiences, Flags: flags},
		flagon.SnapshotOptions{Environment: env, Revision: snap.Revision(), Created: snap.Created()})
}
