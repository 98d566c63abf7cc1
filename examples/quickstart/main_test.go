package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestQuickStart walks the README's loop: staff see the new page, a
// visitor outside the rollout does not until the override link turns it
// on, and enable=default turns it off again.
func TestQuickStart(t *testing.T) {
	h, err := app("flags.yaml")
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
