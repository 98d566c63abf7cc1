// Package remote keeps an application's flags in step with a Flagon server.
//
// On the server, mount [Handler] over the server's source; `flagon serve`
// does:
//
//	h := remote.Handler(src)
//	mux.Handle(remote.SnapshotPath, h)
//	mux.Handle(remote.EventsPath, h)
//
// In each application, [New] returns a [flagon.StatusSource] that follows
// the server:
//
//	src, err := remote.New(ctx, "https://flags.internal", &remote.Options{
//		Stream:    true,
//		CacheFile: "/var/cache/myapp/flags.json",
//	})
//	client := flagon.NewClient(src, nil)
//
// The source fetches the whole definitions, revalidating with the
// revision as ETag, every PollInterval (DefaultPollInterval, 30 s) or, with
// Stream, as soon as the server's event stream announces a change. On
// failure it retries with exponential backoff and jitter, keeps serving the
// last good snapshot and reports itself stale. After each good fetch it
// writes CacheFile, and when the server cannot be reached at start-up it
// starts from that file (stale until the server answers).
package remote
