// Package admin is Flagon's web console: an http.Handler to mount inside
// an application (or that `flagon serve` shows) where staff see every flag,
// override flags for their own browser or login, mint share links, edit
// flags, explain evaluations, read the audit log and, given a usage store,
// see how often each flag is evaluated and which look ready to remove.
//
// To start, give it the application's client, a store if flags are edited
// at run time, and a way to tell who is asking:
//
//	auth, err := admin.NewPasswordAuth(os.Getenv("FLAGON_ADMIN_PASSWORD"), nil)
//	mux.Handle("/admin/", http.StripPrefix("/admin", admin.Handler(&admin.Options{
//		Client:    client,
//		Store:     store,    // nil: flags are shown read-only
//		Overrides: httpOpts, // the *flagonhttp.Options the application's middleware gets
//		Authorize: auth.Authorize,
//		SignIn:    auth,
//	})))
//
// Pages are rendered on the server with html/template; stylesheet and
// script are embedded, nothing is fetched from elsewhere, and every form
// works without JavaScript. The handler works under any prefix: links are
// built from the path the request arrived on.
//
// Access: [Options.Authorize] maps a request to a [Principal] with a role.
// Viewers see everything and override flags for themselves; editors also
// change flags and audiences and mint share links; admins also manage
// everyone's overrides and, given [Options.Users], the accounts of the
// people who sign in ([PasswordOptions.Users] signs them in with a role
// per environment). A request that Authorize refuses sees no flag
// names: it is sent to the sign-in page, or gets a 401 or 403 page. With no
// Authorize, every request is refused.
//
// Single sign-on: [PasswordOptions.OIDC] adds OpenID Connect sign-in, and
// [HeaderAuth] believes an authenticating proxy's headers from trusted
// addresses; a [RoleMap] gives both their roles from groups and e-mail
// domains.
//
// Every POST must pass [net/http.CrossOriginProtection] and carry the
// per-session form token the pages embed.
package admin
