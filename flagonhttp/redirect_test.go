package flagonhttp

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

var allowedHosts = []string{"docs.example.com", "app.example.com:8443"}

// TestSafeRedirectRefuses is the table of open-redirect attempts: every
// one must be refused.
func TestSafeRedirectRefuses(t *testing.T) {
	attempts := []string{
		"//evil.com",
		"//evil.com/path",
		"///evil.com",
		"////evil.com",
		`/\evil.com`,
		`\\evil.com`,
		`\/evil.com`,
		`/\/evil.com`,
		"https:/evil.com",
		"https:evil.com",
		"http:/\\evil.com",
		"https://evil.com",
		"http://evil.com/",
		"HTTPS://EVIL.COM",
		"https://docs.example.com.evil.com/",
		"https://evil.com/docs.example.com",
		"https://docs.example.com@evil.com/",
		"https://user:pass@docs.example.com/",
		"https://evil.com#@docs.example.com",
		"https://evil.com?@docs.example.com",
		"https://app.example.com/", // allowed only on port 8443
		"javascript:alert(1)",
		"JavaScript:alert(document.cookie)",
		"javascript://docs.example.com/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"ftp://docs.example.com/",
		"\x00/home",
		"/home\x00",
		"/\t/evil.com",
		"/\n/evil.com",
		"\r\n//evil.com",
		" //evil.com",
		"/ /evil.com",
		"\x7f/x",
		"/héllo",
		"/\u2215\u2215evil.com", // division slashes
		"/\uff0f\uff0fevil.com", // full-width solidus
		"evil.com",
		"next",
		"./x",
		"../x",
		"?next=/",
		"#frag",
		"/a/../b",
		"/./x",
		"/%2e%2e/x",
		"/a//b",
		"/%2F%2Fevil.com",
		"/%2f",
		"/%5Cevil.com",
		"/" + strings.Repeat("a", MaxRedirectLen),
		"https://" + strings.Repeat("a", MaxRedirectLen) + ".docs.example.com/",
		"https:///docs.example.com",
		"https://[::1/",
		"http://docs.example.com:99999999999/",
	}
	if len(attempts) < 30 {
		t.Fatalf("only %d attempts", len(attempts))
	}
	for _, a := range attempts {
		got, err := SafeRedirect(a, allowedHosts)
		if err == nil {
			t.Errorf("SafeRedirect(%q) = %q, want a refusal", a, got)
			continue
		}
		if !errors.Is(err, ErrUnsafeRedirect) {
			t.Errorf("SafeRedirect(%q): error %v does not wrap ErrUnsafeRedirect", a, err)
		}
	}
}

func TestSafeRedirectAccepts(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/signup", "/signup"},
		{"/a/b/?q=1&r=//x#frag", "/a/b/?q=1&r=//x#frag"},
		{"/search?q=%2F%2Fevil.com", "/search?q=%2F%2Fevil.com"},
		{"https://docs.example.com/guide", "https://docs.example.com/guide"},
		{"HTTPS://Docs.Example.com/", "HTTPS://Docs.Example.com/"},
		{"https://app.example.com:8443/x", "https://app.example.com:8443/x"},
	}
	for _, tt := range tests {
		got, err := SafeRedirect(tt.in, allowedHosts)
		if err != nil || got != tt.want {
			t.Errorf("SafeRedirect(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzSafeRedirect checks that whatever SafeRedirect accepts, resolved
// against the override link's URL, stays on this host or goes to an
// allowed host over http(s), and holds no control characters.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "//evil.com", `/\evil.com`, "https://docs.example.com/x", "javascript:x", "/a/../b", "https:/x", "/%2e%2e/"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://shop.example.org/features/new-home-page?enable=true")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := SafeRedirect(s, allowedHosts)
		if err != nil {
			return
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("accepted %q with byte %#x", s, c)
			}
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", s, err)
		}
		abs := base.ResolveReference(u)
		if abs.Scheme != "https" && abs.Scheme != "http" {
			t.Fatalf("accepted %q: scheme %q", s, abs.Scheme)
		}
		if abs.User != nil {
			t.Fatalf("accepted %q: user info", s)
		}
		host := strings.ToLower(abs.Host)
		if host != "shop.example.org" && host != "docs.example.com" && host != "app.example.com:8443" {
			t.Fatalf("accepted %q: resolves to host %q", s, abs.Host)
		}
		if strings.HasPrefix(abs.Path, "//") {
			t.Fatalf("accepted %q: path %q starts with //", s, abs.Path)
		}
	})
}
