package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/flagon/flagon"
)

// definitionsFrom is a Store whose flags and audiences are read from a
// source (the config file in config-file mode) and cannot be written
// through it; everything else (audit, overrides, share links) is the
// store's. The REST API serves it, so what it shows is what the server
// evaluates.
type definitionsFrom struct {
	Store
	src  flagon.Source
	note string
}

// withDefinitionsFrom returns st with its definitions read from src and
// writes refused with an error that wraps flagon.ErrReadOnly and says
// note.
func withDefinitionsFrom(st Store, src flagon.Source, note string) Store {
	return &definitionsFrom{Store: st, src: src, note: note}
}

// snapshot returns the source's snapshot, or an empty one before the
// first load.
func (d *definitionsFrom) snapshot() *flagon.Snapshot {
	if s := d.src.Snapshot(); s != nil {
		return s
	}
	s, _ := flagon.NewSnapshot(flagon.Definitions{}, flagon.SnapshotOptions{})
	return s
}

func (d *definitionsFrom) readOnly() error {
	return &readOnlyError{note: d.note}
}

// version is the source's revision as a number where it is one, so
// clients see a version that changes with the file.
func (d *definitionsFrom) version(s *flagon.Snapshot) int64 {
	n, _ := strconv.ParseInt(s.Revision(), 10, 64)
	return n
}

func (d *definitionsFrom) Load(ctx context.Context) (flagon.Definitions, int64, error) {
	s := d.snapshot()
	return s.Definitions(), d.version(s), nil
}

func (d *definitionsFrom) Revision(ctx context.Context) (int64, error) {
	return d.version(d.snapshot()), nil
}

func (d *definitionsFrom) Flags(ctx context.Context) ([]flagon.StoredFlag, error) {
	s := d.snapshot()
	defs := s.Definitions()
	out := make([]flagon.StoredFlag, 0, len(defs.Flags))
	for _, f := range defs.Flags {
		out = append(out, flagon.StoredFlag{Flag: f, UpdatedAt: s.Created()})
	}
	return out, nil
}

func (d *definitionsFrom) Flag(ctx context.Context, key string) (flagon.StoredFlag, error) {
	s := d.snapshot()
	for _, f := range s.Definitions().Flags {
		if f.Key == key {
			return flagon.StoredFlag{Flag: f, UpdatedAt: s.Created()}, nil
		}
	}
	return flagon.StoredFlag{}, fmt.Errorf("flag %q: %w", key, flagon.ErrNotFound)
}

func (d *definitionsFrom) Audiences(ctx context.Context) ([]flagon.StoredAudience, error) {
	s := d.snapshot()
	defs := s.Definitions()
	out := make([]flagon.StoredAudience, 0, len(defs.Audiences))
	for _, a := range defs.Audiences {
		out = append(out, flagon.StoredAudience{Audience: a, UpdatedAt: s.Created()})
	}
	return out, nil
}

func (d *definitionsFrom) PutFlag(context.Context, flagon.Flag, int64, flagon.Change) (int64, error) {
	return 0, d.readOnly()
}

func (d *definitionsFrom) ArchiveFlag(context.Context, string, bool, int64, flagon.Change) (int64, error) {
	return 0, d.readOnly()
}

func (d *definitionsFrom) PutAudience(context.Context, flagon.Audience, int64, flagon.Change) (int64, error) {
	return 0, d.readOnly()
}

func (d *definitionsFrom) DeleteAudience(context.Context, string, int64, flagon.Change) error {
	return d.readOnly()
}

// AddScheduled refuses: the flags are the source's.
func (d *definitionsFrom) AddScheduled(ctx context.Context, sc flagon.ScheduledChange, c flagon.Change) (int64, error) {
	return 0, d.readOnly()
}

// ApplyDue applies nothing: the flags are the source's.
func (d *definitionsFrom) ApplyDue(ctx context.Context, now time.Time) ([]flagon.ScheduledChange, error) {
	return nil, nil
}

// AddChangeRequest refuses: a change to flags from a file is made in the
// file, reviewed as the file's changes are.
func (d *definitionsFrom) AddChangeRequest(context.Context, flagon.ChangeRequest, flagon.Change) (int64, error) {
	return 0, d.readOnly()
}

// ReviewChangeRequest refuses, as AddChangeRequest does.
func (d *definitionsFrom) ReviewChangeRequest(context.Context, int64, bool, string, flagon.Change) (flagon.ChangeRequest, error) {
	return flagon.ChangeRequest{}, d.readOnly()
}
