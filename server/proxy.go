package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 192.168.1.7"), for Options.TrustedProxies.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientIPFunc returns a function that says which address a request
// came from: the connection's peer, or, when the peer is one of the
// trusted proxies, the last address in X-Forwarded-For that is not a
// trusted proxy itself. Without trusted proxies X-Forwarded-For is never
// believed: any client could write it.
func clientIPFunc(trusted []netip.Prefix) func(*http.Request) string {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := remoteAddr(r)
		if len(trusted) == 0 || !peer.IsValid() || !isTrusted(peer) {
			return addrString(peer, r.RemoteAddr)
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: trust nothing before it
			}
			if !isTrusted(a) {
				return a.Unmap().String()
			}
		}
		return peer.String()
	}
}

// remoteAddr returns the connection's peer address, or the zero Addr.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func addrString(a netip.Addr, raw string) string {
	if a.IsValid() {
		return a.String()
	}
	return raw
}

// loopbackHosts are the names a browser uses for this machine. A DNS
// rebinding attack cannot make a browser send them for another origin, so
// they are always accepted.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostCheck refuses requests whose Host header names none of hosts (or a
// loopback name), so that a page on another origin cannot reach the
// server by rebinding its own name to the server's address. A host
// without a port matches any port. No hosts accepts every Host.
// /healthz is exempt, for probes that address the server by IP.
func hostCheck(hosts []string, next http.Handler) http.Handler {
	if len(hosts) == 0 {
		return next
	}
	allowed := make(map[string]bool)
	for _, h := range append(hosts, loopbackHosts...) {
		allowed[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		name := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			name = h
		}
		name = strings.Trim(name, "[]")
		if allowed[host] || allowed[name] || r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "misdirected request: this server does not answer for host "+truncate(r.Host, 100)+" (see -public-url and -allowed-hosts)", http.StatusMisdirectedRequest)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
