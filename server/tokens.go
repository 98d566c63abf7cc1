package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
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
}

// ParseAPITokens reads "name:secret[:ro|:admin],…", the form
// FLAGON_API_TOKENS takes.
func ParseAPITokens(s string) ([]APIToken, error) {
	var out []APIToken
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) < 2 || len(fields) > 3 || fields[0] == "" || len(fields[1]) < 16 {
			return nil, fmt.Errorf("api token %q: want name:secret[:ro|:admin] with a secret of at least 16 characters", fields[0])
		}
		t := APIToken{Name: fields[0], Secret: fields[1]}
		if len(fields) == 3 {
			switch fields[2] {
			case "ro":
				t.ReadOnly = true
			case "admin":
				t.Admin = true
			default:
				return nil, fmt.Errorf("api token %q: unknown mode %q (want ro or admin)", fields[0], fields[2])
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
