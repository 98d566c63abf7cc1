package file

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a watching Source waits after the last
// change to its file before it reloads, so that an editor's burst of
// writes reloads once.
const DefaultDebounce = 100 * time.Millisecond

// maxDebounceWait bounds how long a stream of changes can put a reload
// off, in debounce periods.
const maxDebounceWait = 10

// Options configures a Source. The zero value watches the file and serves
// the flags' own settings.
type Options struct {
	// Environment selects the environments: entry whose settings apply.
	// Empty means the flags' own settings. A name the file does not list
	// is allowed (the flags' own settings apply) and logged once as a
	// warning. The package reads no environment variables: a program that
	// takes the environment from one (as cmd/flagon takes FLAGON_ENV)
	// reads it and passes it here.
	Environment string

	// Logger receives loads, reloads and rejected files. Nil means
	// slog.Default().
	Logger *slog.Logger

	// NoWatch turns off watching: the file is read by New and by Reload
	// only.
	NoWatch bool

	// Debounce is how long to wait after the last change before reloading;
	// zero means DefaultDebounce.
	Debounce time.Duration
}

// A Source serves the flags of a config file and, unless told not to,
// reloads them when the file changes. It is a [flagon.StatusSource]: when
// a changed file is broken, the Source logs why (file:line: field:
// problem), keeps serving the last good snapshot, and reports the error
// in Status until a good file replaces it.
//
// The Source watches the file's directory rather than the file, so it
// sees editors that save by writing a new file and renaming it over the
// old one, and Kubernetes ConfigMap volumes, which swap a symlink.
type Source struct {
	flagon.Publisher

	path     string // as given
	abs      string
	env      string
	log      *slog.Logger
	debounce time.Duration

	mu      sync.Mutex // serializes reloads; guards the fields below
	last    []byte     // the data of the current snapshot
	bad     []byte     // the data last rejected
	badErr  error
	warned  bool
	started bool

	watcher   *fsnotify.Watcher
	target    string // abs with symlinks resolved; the loop's
	extraDir  string // the target's directory, when it is watched too; the loop's
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ flagon.StatusSource = (*Source)(nil)

// New reads the config file at path and returns a Source that serves it,
// watching it for changes unless opts.NoWatch is set. A nil opts is the
// zero Options. New fails if the file cannot be read or is broken; the
// error names the file, line and field of each problem.
//
// Call Close to stop watching.
func New(path string, opts *Options) (*Source, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	s := &Source{path: path, abs: abs, env: o.Environment, log: o.Logger, debounce: o.Debounce}
	if !o.NoWatch {
		// Watch first, so that a change made while the file is read is
		// not missed.
		if s.watcher, err = fsnotify.NewWatcher(); err != nil {
			return nil, fmt.Errorf("file: watch %s: %w", path, err)
		}
		if err := s.watcher.Add(filepath.Dir(abs)); err != nil {
			s.watcher.Close()
			return nil, fmt.Errorf("file: watch %s: %w", path, err)
		}
	}
	if err := s.reload(); err != nil {
		if s.watcher != nil {
			s.watcher.Close()
		}
		return nil, err
	}
	if s.watcher != nil {
		s.updateWatches()
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.loop()
	}
	return s, nil
}

// Path returns the path of the file, as given to New.
func (s *Source) Path() string { return s.path }

// Environment returns the name of the environment the Source serves, or
// "" for the flags' own settings.
func (s *Source) Environment() string { return s.env }

// Reload reads the file again and, if it changed, publishes its flags. If
// the file is broken it returns the error, and the Source keeps serving
// the previous snapshot and reports the error in Status. Programs that do
// not watch call it, for example on SIGHUP.
//
// Reload must not be called from a subscriber.
func (s *Source) Reload() error { return s.reload() }

func (s *Source) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		return s.reject(nil, fmt.Errorf("file: %w", err))
	}
	if s.started && bytes.Equal(data, s.last) && !s.Status().Stale {
		return nil
	}
	if s.bad != nil && bytes.Equal(data, s.bad) {
		return s.badErr // rejected already, and logged
	}
	snap, envs, err := load(s.path, data, s.env)
	if err != nil {
		return s.reject(data, err)
	}
	msg := "file: reloaded flags"
	if !s.started {
		msg = "file: loaded flags"
	}
	s.started, s.last, s.bad, s.badErr = true, data, nil, nil
	s.Publish(snap)
	s.log.Info(msg, "path", s.path, "environment", s.env, "flags", snap.Len(), "revision", snap.Revision())
	if s.env != "" && !s.warned && !slices.Contains(envs, s.env) {
		s.warned = true
		s.log.Warn("file: the environment is not in the file's environments section; serving the flags' own settings",
			"path", s.path, "environment", s.env, "environments", strings.Join(envs, ","))
	}
	return nil
}

// reject records that data (nil if it could not be read) was rejected
// with err. At start it only returns err.
func (s *Source) reject(data []byte, err error) error {
	if !s.started {
		return err
	}
	s.bad, s.badErr = data, err
	s.SetStale(err)
	attrs := []any{"path", s.path, "err", err}
	var fe *flagon.FieldError
	if errors.As(err, &fe) && fe.Line > 0 {
		attrs = append(attrs, "line", fe.Line)
	}
	s.log.Error("file: rejected the changed file; serving the previous flags", attrs...)
	return err
}

// Close stops watching the file. The Source keeps serving its last
// snapshot. Close is safe to call more than once.
func (s *Source) Close() error {
	if s.watcher == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.watcher.Close()
	})
	return s.closeErr
}

// loop reloads the file a debounce period after the last change to it.
func (s *Source) loop() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pending bool
	var first time.Time
	for {
		select {
		case <-s.stop:
			timer.Stop()
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			if !s.relevant(ev) {
				continue
			}
			now := time.Now()
			if !pending {
				pending, first = true, now
			}
			wait := min(s.debounce, first.Add(maxDebounceWait*s.debounce).Sub(now))
			timer.Reset(max(wait, 0))
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			s.log.Warn("file: watching failed", "path", s.path, "err", err)
		case <-timer.C:
			pending = false
			s.reload() // logs its own errors
			s.updateWatches()
		}
	}
}

// relevant reports whether ev may have changed the file: an event on the
// file itself or on what it links to, or on the ..data symlink that
// Kubernetes swaps when a ConfigMap changes.
func (s *Source) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	return name == s.abs || name == s.target || strings.HasPrefix(filepath.Base(name), "..")
}

// updateWatches watches the directory of the file's symlink target too,
// when the file links to another directory.
func (s *Source) updateWatches() {
	target, err := filepath.EvalSymlinks(s.abs)
	if err != nil {
		return
	}
	if target, err = filepath.Abs(target); err != nil {
		return
	}
	s.target = target
	dir, home := filepath.Dir(target), filepath.Dir(s.abs)
	if dir == home || strings.HasPrefix(dir, home+string(filepath.Separator)) || dir == s.extraDir {
		return
	}
	if s.extraDir != "" {
		s.watcher.Remove(s.extraDir)
		s.extraDir = ""
	}
	if s.watcher.Add(dir) == nil {
		s.extraDir = dir
	}
}
