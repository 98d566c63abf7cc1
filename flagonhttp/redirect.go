package flagonhttp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxRedirectLen is the longest redirect target SafeRedirect accepts.
const MaxRedirectLen = 2048

// ErrUnsafeRedirect is wrapped by SafeRedirect's errors.
var ErrUnsafeRedirect = errors.New("unsafe redirect")

// SafeRedirect reports whether target is a safe place to send a browser
// after the override link, and returns it ("/" when target is empty).
//
// It accepts a same-origin path: one that starts with a single "/"
// followed by anything but "/" or "\", with an optional query and
// fragment. It accepts an absolute http or https URL only when its host
// (host or host:port, compared without case) is in allowedHosts, and it
// has no user information. Everything else is refused: "//host", "/\host",
// "https:/host", "javascript:", "data:", relative paths such as "next",
// backslashes, dot segments, "//" or an encoded slash or backslash
// (%2F, %5C) in the path, ASCII control characters, spaces, non-ASCII
// bytes (send them percent-encoded), and targets longer than
// MaxRedirectLen. The refusal says why.
func SafeRedirect(target string, allowedHosts []string) (string, error) {
	if target == "" {
		return "/", nil
	}
	refuse := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrUnsafeRedirect, why)
	}
	if len(target) > MaxRedirectLen {
		return refuse(fmt.Sprintf("longer than %d bytes", MaxRedirectLen))
	}
	for i := 0; i < len(target); i++ {
		switch c := target[i]; {
		case c <= ' ' || c == 0x7f:
			return refuse("contains a control character or space")
		case c >= 0x80:
			return refuse("contains a non-ASCII byte; percent-encode it")
		case c == '\\':
			return refuse(`contains a backslash`)
		}
	}
	if target[0] == '/' {
		if len(target) > 1 && target[1] == '/' {
			return refuse(`starts with "//": another host`)
		}
		u, err := url.Parse(target)
		if err != nil {
			return refuse("not a valid URL path")
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			return refuse("not a path")
		}
		if err := checkPath(u.EscapedPath()); err != nil {
			return refuse(err.Error())
		}
		return target, nil
	}
	scheme, _, ok := strings.Cut(target, ":")
	if !ok || strings.ContainsAny(scheme, "/?#") {
		return refuse(`a relative path: start it with "/"`)
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
	default:
		return refuse(fmt.Sprintf("scheme %q is not http or https", scheme))
	}
	if !strings.HasPrefix(target[len(scheme)+1:], "//") {
		return refuse(`an absolute URL needs "//" after the scheme`)
	}
	u, err := url.Parse(target)
	if err != nil {
		return refuse("not a valid URL")
	}
	if u.User != nil {
		return refuse("contains user information")
	}
	if u.Host == "" || u.Opaque != "" {
		return refuse("has no host")
	}
	if err := checkPath(u.EscapedPath()); err != nil {
		return refuse(err.Error())
	}
	for _, h := range allowedHosts {
		if h != "" && strings.EqualFold(h, u.Host) {
			return target, nil
		}
	}
	return refuse(fmt.Sprintf("host %q is not allowed", u.Host))
}

// checkPath refuses dot segments, empty segments and encoded slashes in
// a path, which browsers, proxies and servers resolve differently.
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
			return errors.New("contains a dot segment")
		}
	}
	if strings.Contains(p, "//") {
		return errors.New(`contains "//"`)
	}
	if lp := strings.ToLower(p); strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
		return errors.New("contains an encoded slash or backslash")
	}
	return nil
}
