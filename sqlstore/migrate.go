package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// A Migration is one step of a schema, read from a file named
// NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ReadMigrations reads the .sql files of directory dir of fsys (such as an
// embedded "migrations" folder), sorted by version.
func ReadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	fsys, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(path.Base(name), ".sql"), SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Migrate applies the migrations that db lacks, all in one transaction
// that holds off other migrators, and returns the schema version. A
// database whose schema is newer than the newest migration is refused: an
// older Flagon must not write to it.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if d.LockMigrations != nil {
		if err := d.LockMigrations(ctx, tx); err != nil {
			return 0, fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.MigrationsTable); err != nil {
		return 0, fmt.Errorf("create migrations table: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM flagon_migrations`)
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	applied := make(map[int]bool)
	current := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read migrations: %w", err)
		}
		applied[v] = true
		current = max(current, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].Version
	}
	if current > newest {
		return 0, fmt.Errorf("the database schema is at version %d, newer than this Flagon knows (%d): upgrade Flagon", current, newest)
	}
	insert := `INSERT INTO flagon_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	if d.NumberedParams {
		insert = `INSERT INTO flagon_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return 0, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, insert, m.Version, m.Name, d.Time(Now())); err != nil {
			return 0, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		current = max(current, m.Version)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit migrations: %w", err)
	}
	return current, nil
}
