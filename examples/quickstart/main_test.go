package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickStart walks the README's loop: staff see the new page, a
// visitor outside the rollout does not until the override link turns it
// on, and enable=default turns it off again.
func TestQuickStart(t *testing.T) {
	h, err := app("flags.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	// user-1 is outside the 10% rollout (bucket 62,515 of 100,000).
	steps := []struct{ path, want string }{
		{"/?user=ann&staff", "the new home page"},
		{"/?user=user-1", "the old home page"},
		{"/features/new-home-page?enable=true&duration=3600&redirect_url=/%3Fuser%3Duser-1", "the new home page"},
		{"/features/new-home-page?enable=default&redirect_url=/%3Fuser%3Duser-1", "the old home page"},
	}
	for _, s := range steps {
		if got := get(s.path); got != s.want {
			t.Errorf("GET %s = %q, want %q", s.path, got, s.want)
		}
	}
}

// TestFindFlags checks that the example finds its flags.yaml when run
// from the repository's root (go run ./examples/quickstart) and from its
// own folder (go run .), and loads it from both.
func TestFindFlags(t *testing.T) {
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(here, "..", "..")
	tests := []struct{ name, dir, want string }{
		{"repository root", root, filepath.Join("examples", "quickstart", "flags.yaml")},
		{"example folder", here, "flags.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.dir)
			got, err := findFlags("")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("findFlags(\"\") = %q, want %q", got, tt.want)
			}
			if _, err := app(got, "production"); err != nil {
				t.Errorf("app(%q): %v", got, err)
			}
		})
	}
	t.Run("elsewhere", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if _, err := findFlags(""); err == nil || !strings.Contains(err.Error(), "-flags") {
			t.Errorf("findFlags(\"\") in an empty folder = %v, want an error that mentions -flags", err)
		}
		if got, err := findFlags("mine.yaml"); got != "mine.yaml" || err != nil {
			t.Errorf("findFlags(\"mine.yaml\") = %q, %v; want the name given", got, err)
		}
	})
}

func TestAnnounce(t *testing.T) {
	var b bytes.Buffer
	announce(&b, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}, "flags.yaml", "")
	if !strings.HasPrefix(b.String(), "quickstart: serving http://127.0.0.1:8081/ (flags from flags.yaml") {
		t.Errorf("announce wrote\n%s\nwant the URL first", b.String())
	}
	if !strings.Contains(b.String(), "http://127.0.0.1:8081/features/new-home-page?enable=true") {
		t.Errorf("announce wrote\n%s\nwant the override link", b.String())
	}
}
