// Package flagontest helps test code that uses Flagon, as net/http/httptest
// helps test handlers.
//
// In an application's tests, [New] gives each test its own flags, and
// records which flags the code read, with which context:
//
//	func TestHome(t *testing.T) {
//		t.Parallel()
//		kit := flagontest.New(t, flagontest.Flags{"new-home-page": true, "checkout": "express"})
//		app := NewApp(kit.Client)
//		// … exercise app …
//		if !kit.Read("new-home-page") { t.Error("the home page did not check its flag") }
//		kit.Set("new-home-page", false) // change a flag mid-test
//	}
//
// [OverrideCookie] mints the signed override cookie that flagonhttp's
// middleware reads, for requests built with httptest.
//
// For implementers of flagon.Store, [TestStore] is the conformance suite
// every store runs, and [MemoryStore] is an in-memory store.
package flagontest
