// Package flagon is a feature-flag library for Go web applications: flags
// defined in one place, evaluated per request with rules, audiences and
// stable percentage rollouts, and overridden per browser or per login.
//
// The package is the vocabulary every other part of Flagon shares, and it
// imports only the standard library. Data flows one way:
//
//	Source (file, sqlite, postgres, remote, …) → *Snapshot → Evaluate → Client → HTTP, templates, admin
//
// A [Flag] is plain data: variants, a default variant, ordered [Rule]s
// that serve a variant or a percentage [Split], a fallthrough, and an
// [OverridePolicy]. [NewSnapshot] validates a whole set of flags and
// compiles it; [Snapshot.Evaluate] is the pure evaluation function. A
// [Source] delivers snapshots and a [Client] swaps them in atomically, so
// evaluation never blocks and does no I/O.
//
// To start, build a source, a client, and read flags with the context a
// request carries:
//
//	src, err := file.New("flags.yaml", nil)
//	client := flagon.NewClient(src, nil)
//	ctx = flagon.WithEvalContext(ctx, flagon.EvalContext{Key: userID, Attrs: map[string]any{"is_staff": true}})
//	if client.Bool(ctx, "new-home-page", false) { … }
//
// Or declare typed handles once, and read them through the default client:
//
//	var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")
//
//	flagon.SetDefault(client)
//	if NewHomePage.Enabled(ctx) { … }
//
// Getters never fail: on any error (unknown flag, wrong type, no data yet)
// they return the caller's default, and their Detail forms say why.
package flagon
