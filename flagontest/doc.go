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
// For implementers of stores there is one conformance suite per interface,
// run by every implementation in this repository and usable by any other,
// since they rely only on exported rules (Flag.Validate,
// Definitions.CheckAudienceDelete, AuditEntry.Validate,
// UserOverride.Validate, ShareToken.Validate, flagon.UnmarshalFlag,
// flagon.MarshalValue): [TestStore] for flagon.Store, [TestAuditLog] for
// flagon.AuditLog, [TestUserOverrideStore] and [TestShareTokenStore] for
// flagonhttp's. [MemoryStore] is an in-memory store that is all four.
package flagontest
