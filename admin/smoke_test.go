package admin

import "testing"

func TestSmoke(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:admin")
	for _, p := range []string{"/admin/", "/admin/overrides", "/admin/overrides?scope=login", "/admin/flags", "/admin/flags/checkout", "/admin/flags/new", "/admin/share", "/admin/users", "/admin/explain", "/admin/audit"} {
		r := b.get(p)
		if r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, snippet(r.body))
		}
	}
}
