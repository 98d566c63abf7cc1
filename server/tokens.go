package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/flagon/flagon"
)

// An APIToken grants a client of the REST API access under a name, which
// the audit log records as "api:<name>".
type APIToken struct {
	Name   string
	Secret string
	// ReadOnly tokens may only GET.
	ReadOnly bool
	// Admin tokens write to protected environments at once and approve
	// change requests, as an admin in the console does; other writing
	// tokens' changes there become change requests (docs/decisions/0173).
	Admin bool
	// Environment is the environment the token reaches: its snapshot and
	// event stream, and usage reports for it. Empty means the server's
	// default environment (the one -env names), which is what every token
	// reached before servers had several; AllEnvironments reaches every
	// environment and, on a server with several, the REST API
	// (docs/decisions/0162).
	Environment string
}

// AllEnvironments is the Environment of an APIToken that reaches every
// environment of the server.
const AllEnvironments = "*"

// ParseAPITokens reads "name:secret[:mode[:environment]],…", the form
// FLAGON_API_TOKENS takes: mode is ro (read-only), rw (empty: rw) or admin
// (rw, and approves change requests), and environment is one the server
// serves, or * for all of them (empty: the default environment).
func ParseAPITokens(s string) ([]APIToken, error) {
	var out []APIToken
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) < 2 || len(fields) > 4 || fields[0] == "" || len(fields[1]) < 16 {
			return nil, fmt.Errorf("api token %q: want name:secret[:ro|rw|admin[:environment]] with a secret of at least 16 characters", fields[0])
		}
		t := APIToken{Name: fields[0], Secret: fields[1]}
		if len(fields) >= 3 {
			switch fields[2] {
			case "ro":
				t.ReadOnly = true
			case "admin":
				t.Admin = true
			case "rw", "":
			default:
				return nil, fmt.Errorf("api token %q: unknown mode %q (want ro, rw or admin)", fields[0], fields[2])
			}
		}
		if len(fields) == 4 {
			t.Environment = fields[3]
			if t.Environment != AllEnvironments && !flagon.ValidKey(t.Environment) {
				return nil, fmt.Errorf("api token %q: environment %q is not a valid name (lowercase letters, digits, '-', '_', '.') nor * for all", fields[0], t.Environment)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// authenticate finds the token a request presents, as a bearer token or
// X-API-Key, comparing in constant time. With no token configured, what
// (such as "the REST API") is closed. It returns the token, or an
// unauthorized error that says why not.
func authenticate(tokens []APIToken, r *http.Request, what string) (*APIToken, error) {
	secret := r.Header.Get("X-API-Key")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		secret = strings.TrimSpace(b)
	}
	if len(tokens) == 0 {
		return nil, newError(errUnauthorized, "%s is closed: no API tokens are configured (set FLAGON_API_TOKENS or FLAGON_API_TOKENS_FILE)", what)
	}
	var tok *APIToken
	for i := range tokens {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(tokens[i].Secret)) == 1 {
			tok = &tokens[i]
		}
	}
	if secret == "" || tok == nil {
		return nil, newError(errUnauthorized, "missing or unknown API token: send Authorization: Bearer <token>")
	}
	return tok, nil
}

// requireToken serves next only to requests that present one of tokens,
// read-only or not.
func requireToken(tokens []APIToken, what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := authenticate(tokens, r, what); err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
