// Package flagonhttp lets testers, product people and beta users turn a
// latent feature on for themselves, safely: HTTP middleware that puts each
// request's evaluation context and overrides into its context, a signed
// override cookie, the set-and-redirect link that sets it, template
// functions, and a JSON view of the flags for front-end code.
//
// To start, wrap your handler and mount the link:
//
//	keys, err := flagonhttp.ParseKeys(os.Getenv("FLAGON_COOKIE_KEYS")) // "k1:<base64 secret>"
//	opts := &flagonhttp.Options{
//		Keys: keys,
//		Context: func(r *http.Request) flagon.EvalContext {
//			u := currentUser(r)
//			return flagon.EvalContext{Key: u.ID, Attrs: map[string]any{"is_staff": u.Staff, "email": u.Email}}
//		},
//		CanOverride: func(r *http.Request, f flagon.Flag) bool { return currentUser(r).Staff },
//	}
//	mux := http.NewServeMux()
//	flagonhttp.Mount(mux, client, opts) // /features/{name} and /features.json
//	mux.HandleFunc("/", home)
//	http.ListenAndServe(":8080", flagonhttp.Middleware(client, opts)(mux))
//
// Then a link such as
//
//	/features/new-home-page?enable=true&duration=86400&redirect_url=/
//
// turns new-home-page on in that browser for a day, and
// client.Bool(r.Context(), "new-home-page", false) sees it. enable=default
// clears it.
//
// Who may override what is the flag's override policy: none (never),
// staff (requests that Options.CanOverride or the policy's audience
// allows; the default) or anyone (anyone with the link), with the values
// and the longest duration it allows. A GET changes state only for anyone
// flags or with a share token (MintShareToken); other changes are POSTs,
// checked by http.CrossOriginProtection.
//
// The pieces other packages build on: Codec reads and writes the cookie
// (Read marks each entry active, expired, stale, invalid or refused);
// Keys is the signing key ring; Policy checks a request against a flag's
// policy; Transport forwards overrides to downstream services in a signed
// header; SafeRedirect checks redirect targets.
//
// docs/decisions/0003-override-cookie.md records the cookie format, the
// signing and key rotation, and the policy and redirect rules.
package flagonhttp
