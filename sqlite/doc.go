// Package sqlite is Flagon's default store: one SQLite file, through the
// pure-Go modernc.org/sqlite driver, so it needs no cgo and no server.
//
// Open creates the file if needed and brings its schema up to date:
//
//	store, err := sqlite.Open(ctx, sqlite.DefaultPath)
//	if err != nil { … }
//	defer store.Close()
//	src, err := flagon.NewStoreSource(ctx, store, nil)
//	client := flagon.NewClient(src, nil)
//
// The database runs in WAL mode, so readers never wait for the writer.
// Within one process, Watch hears of a write as it commits; processes
// that share the file hear of each other's writes by polling the
// revision every DefaultPollInterval.
package sqlite
