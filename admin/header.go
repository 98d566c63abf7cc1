package admin

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// HeaderOptions configures HeaderAuth.
type HeaderOptions struct {
	// UserHeader names the header the proxy writes the signed-in name in,
	// such as X-Forwarded-User. Empty means EmailHeader's value is the
	// name.
	UserHeader string
	// EmailHeader and GroupsHeader, if set, name the headers with the
	// e-mail address (which the proxy vouches for, so it counts as
	// verified) and the comma-separated groups.
	EmailHeader  string
	GroupsHeader string
	// Proxies are the addresses whose headers are believed: the
	// request's immediate peer must be in one. None believes no one.
	Proxies []netip.Prefix
	// Roles maps groups and e-mail domains to roles.
	Roles *RoleMap
	// Environment is the environment whose role a principal has.
	Environment string
	// Logger receives refusals; nil means slog.Default().
	Logger *slog.Logger
}

// HeaderAuth signs people in from headers that an authenticating proxy in
// front of the console writes (oauth2-proxy, a cloud load balancer's
// identity-aware proxy): it believes them only from a connection whose
// peer is one of HeaderOptions.Proxies, since anyone else can write them
// too. Each request is judged on its own; there is no session.
type HeaderAuth struct {
	opts HeaderOptions
	log  *slog.Logger
}

// NewHeaderAuth returns a HeaderAuth. A nil opts, or one naming neither
// header, believes nothing.
func NewHeaderAuth(opts *HeaderOptions) *HeaderAuth {
	h := &HeaderAuth{}
	if opts != nil {
		h.opts = *opts
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.Default()
	}
	return h
}

// Authorize returns the principal the proxy's headers name, with the role
// the role map gives them in the environment (RoleNone, so refused, if
// none). A request without the headers is ErrUnauthenticated; so is one
// with them from a peer that is not a trusted proxy, which is logged.
func (h *HeaderAuth) Authorize(r *http.Request) (Principal, error) {
	id := h.identity(r)
	if id == nil {
		return Principal{}, ErrUnauthenticated
	}
	if !h.trusted(r) {
		h.log.Warn("admin: sign-in headers from an untrusted peer ignored", "peer", r.RemoteAddr, "name", id.Name)
		return Principal{}, ErrUnauthenticated
	}
	role := h.opts.Roles.RoleIn(id, h.opts.Environment)
	if role == RoleNone {
		h.log.Warn("admin: proxy sign-in refused: no role mapped", "name", id.Name, "groups", id.Groups, "email", id.Email, "env", h.opts.Environment)
	}
	return Principal{Name: id.Name, Role: role}, nil
}

// Then returns an Authorize that tries h first and, for a request without
// trusted headers, next.
func (h *HeaderAuth) Then(next func(*http.Request) (Principal, error)) func(*http.Request) (Principal, error) {
	return func(r *http.Request) (Principal, error) {
		p, err := h.Authorize(r)
		if err == ErrUnauthenticated && next != nil {
			return next(r)
		}
		return p, err
	}
}

// identity reads the headers, or returns nil when they name no one.
func (h *HeaderAuth) identity(r *http.Request) *Identity {
	get := func(name string) string {
		if name == "" {
			return ""
		}
		return strings.TrimSpace(r.Header.Get(name))
	}
	id := &Identity{Name: get(h.opts.UserHeader), Email: get(h.opts.EmailHeader)}
	id.EmailVerified = id.Email != ""
	if id.Name == "" {
		id.Name = id.Email
	}
	if id.Name == "" || len(id.Name) > 200 {
		return nil
	}
	for _, g := range strings.Split(get(h.opts.GroupsHeader), ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	return id
}

// trusted reports whether the request's immediate peer is a trusted proxy.
func (h *HeaderAuth) trusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.opts.Proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
