package remote

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flagon/flagon"
)

// cacheFile is the cache file's content.
type cacheFile struct {
	Format      int             `json:"format"` // cacheFormat
	Revision    string          `json:"revision"`
	Environment string          `json:"environment,omitempty"`
	Saved       time.Time       `json:"saved"`
	Definitions json.RawMessage `json:"definitions"`
}

const cacheFormat = 1

// writeCache writes the definitions of snap, as the server sent them, to
// file, atomically: a reader sees the old file or the new one.
func writeCache(file string, defs []byte, snap *flagon.Snapshot) error {
	b, err := json.Marshal(cacheFile{
		Format:      cacheFormat,
		Revision:    snap.Revision(),
		Environment: snap.Environment(),
		Saved:       time.Now().UTC(),
		Definitions: defs,
	})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// loadCache publishes the snapshot in the cache file.
func (s *Source) loadCache() error {
	b, err := os.ReadFile(s.opts.CacheFile)
	if err != nil {
		return err
	}
	var c cacheFile
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: not a flagon cache file: %w", s.opts.CacheFile, err)
	}
	if c.Format != cacheFormat || len(c.Definitions) == 0 {
		return fmt.Errorf("%s: not a flagon cache file (format %d)", s.opts.CacheFile, c.Format)
	}
	env := s.opts.Environment
	if env == "" {
		env = c.Environment
	}
	snap, err := compile(c.Definitions, c.Revision, env, c.Saved)
	if err != nil {
		return fmt.Errorf("%s: %w", s.opts.CacheFile, err)
	}
	s.mu.Lock()
	s.cachedAt = c.Saved
	s.mu.Unlock()
	s.Publish(snap)
	return nil
}
