// Package postgres is the Flagon store for fleets: many instances of an
// application share their flags in one PostgreSQL database, through
// github.com/jackc/pgx/v5, and each learns of a write within milliseconds
// through LISTEN/NOTIFY.
//
//	store, err := postgres.Open(ctx, "postgres://flagon@db.internal/app?search_path=flagon")
//	if err != nil { … }
//	defer store.Close()
//	src, err := flagon.NewStoreSource(ctx, store, &flagon.StoreSourceOptions{Environment: "production"})
//	client := flagon.NewClient(src, nil)
//
// Open applies the embedded migrations, one migrator at a time (an
// advisory lock guards them). The tables live in the connection's current
// schema, so search_path in the DSN chooses it. Every write runs
// pg_notify in its transaction, so the notification goes out exactly when
// the write commits; each Store that is watched holds one extra
// connection that LISTENs, and reconnects with backoff when it drops,
// catching up on the writes it missed. While the database is unreachable,
// writes fail and a StoreSource keeps serving its last snapshot, stale.
package postgres
