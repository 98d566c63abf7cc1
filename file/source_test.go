package file

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// logRecorder is a slog.Handler that passes every record to a channel, so
// that tests can wait for a reload to be logged.
type logRecorder struct{ records chan slog.Record }

func newLogRecorder() *logRecorder { return &logRecorder{records: make(chan slog.Record, 1000)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.records <- r.Clone():
	default:
	}
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// waitFor returns the first record at level whose "err" attribute (or
// message) contains substr, or fails the test after a while.
func (h *logRecorder) waitFor(t *testing.T, level slog.Level, substr string) slog.Record {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case r := <-h.records:
			text := r.Message
			r.Attrs(func(a slog.Attr) bool {
				text += " " + a.String()
				return true
			})
			if r.Level == level && strings.Contains(text, substr) {
				return r
			}
		case <-timeout:
			t.Fatalf("no %v record containing %q was logged", level, substr)
		}
	}
}

// count returns how many records at level have been logged so far.
func (h *logRecorder) count(level slog.Level) int {
	n := 0
	for {
		select {
		case r := <-h.records:
			if r.Level == level {
				n++
			}
		default:
			return n
		}
	}
}

const (
	goodV1 = "flags:\n  a: true\n"
	goodV2 = "flags:\n  a: true\n  b: false\n"
	goodV3 = "flags:\n  a: true\n  c: false\n"
	broken = "flags:\n  a: true\n  b:\n    enabled: maybe\n"
)

// writeFile replaces the file at path atomically, as careful editors and
// deploy tools do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitForFlag(t *testing.T, src flagon.Source, key string) *flagon.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Has(key) })
	if err != nil {
		t.Fatalf("waiting for flag %q: %v", key, err)
	}
	return s
}

func TestNewBrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.yaml")
	writeFile(t, path, broken)
	_, err := New(path, &Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("New succeeded on a broken file")
	}
	fe := firstError(t, err)
	if fe.File != path || fe.Line != 4 || fe.Flag != "b" || fe.Field != "enabled" {
		t.Errorf("New error = %v; want %s:4, flag b, field enabled", err, path)
	}
}

func TestNewMissingFile(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "nope.yaml"), &Options{Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New = %v, want an error satisfying errors.Is(err, os.ErrNotExist)", err)
	}
}

func TestEnvironmentSelection(t *testing.T) {
	staff := flagon.EvalContext{Key: "user-1", Attrs: map[string]any{"is_staff": true}}
	tests := []struct {
		name      string
		option    string
		flagonEnv string
		wantEnv   string
		check     func(f flagon.Flag) bool
		reason    flagon.Reason // for a staff member
		value     bool
	}{
		{"none", "", "", "", func(f flagon.Flag) bool { return f.Default == "off" && len(f.Rules) == 2 }, flagon.ReasonTargetingMatch, true},
		{"option", "production", "", "production", func(f flagon.Flag) bool { return f.Disabled }, flagon.ReasonDisabled, false},
		{"staging", "staging", "", "staging", func(f flagon.Flag) bool { return len(f.Rules) == 1 && f.Fallthrough.Split[0].Percent == 50 }, flagon.ReasonTargetingMatch, true},
		{"FLAGON_ENV is not read", "", "staging", "", func(f flagon.Flag) bool { return f.Default == "off" && len(f.Rules) == 2 }, flagon.ReasonTargetingMatch, true},
		{"option, FLAGON_ENV aside", "development", "production", "development", func(f flagon.Flag) bool { return f.Default == "on" && !f.Disabled }, flagon.ReasonTargetingMatch, true},
		{"unknown environment", "qa", "", "qa", func(f flagon.Flag) bool { return f.Default == "off" && len(f.Rules) == 2 }, flagon.ReasonTargetingMatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FLAGON_ENV", tt.flagonEnv)
			src, err := New("testdata/complete.yaml", &Options{Environment: tt.option, NoWatch: true, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := src.Environment(); got != tt.wantEnv {
				t.Errorf("Environment() = %q, want %q", got, tt.wantEnv)
			}
			s := src.Snapshot()
			if got := s.Environment(); got != tt.wantEnv {
				t.Errorf("snapshot environment = %q, want %q", got, tt.wantEnv)
			}
			f, ok := s.Flag("new-home-page")
			if !ok || !tt.check(f) {
				t.Errorf("new-home-page in %q = %+v, not as the environment sets it", tt.wantEnv, f)
			}
			r := s.Evaluate("new-home-page", staff, nil)
			if r.Reason != tt.reason || r.Value != tt.value {
				t.Errorf("Evaluate for staff = %v (%s), want %v (%s)", r.Value, r.Reason, tt.value, tt.reason)
			}
		})
	}
}

func TestUnknownEnvironmentWarnsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.yaml")
	writeFile(t, path, goodV1)
	logs := newLogRecorder()
	src, err := New(path, &Options{Environment: "qa", NoWatch: true, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, slog.LevelWarn, "qa")
	writeFile(t, path, goodV2)
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := logs.count(slog.LevelWarn); n != 0 {
		t.Errorf("%d more warnings after a reload, want 0", n)
	}
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.yaml")
	writeFile(t, path, goodV1)
	logs := newLogRecorder()
	src, err := New(path, &Options{NoWatch: true, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	first := src.Snapshot()

	// Unchanged: nothing to do.
	if err := src.Reload(); err != nil || src.Snapshot() != first {
		t.Errorf("Reload of an unchanged file = %v, and replaced the snapshot: %v", err, src.Snapshot() != first)
	}

	writeFile(t, path, goodV2)
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	good := src.Snapshot()
	if !good.Has("b") {
		t.Fatal("Reload did not publish the new flags")
	}

	writeFile(t, path, broken)
	err = src.Reload()
	if fe := firstError(t, err); fe.Line != 4 || fe.Field != "enabled" {
		t.Errorf("Reload of a broken file = %v, want line 4, field enabled", err)
	}
	if src.Snapshot() != good {
		t.Error("a broken file replaced the snapshot")
	}
	st := src.Status()
	if !st.Stale || st.Err == nil || !strings.Contains(st.Err.Error(), path+":4:") {
		t.Errorf("Status = %+v, want stale with the error at %s:4", st, path)
	}
	r := logs.waitFor(t, slog.LevelError, path+":4:")
	var line int64
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" {
			line = a.Value.Int64()
		}
		return true
	})
	if line != 4 {
		t.Errorf("the rejection was logged with line=%d, want 4", line)
	}

	writeFile(t, path, goodV2) // the good file back, as it was
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.Stale || st.Err != nil {
		t.Errorf("Status after the fix = %+v, want fresh", st)
	}
}

func TestWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.yaml")
	writeFile(t, path, goodV1)
	logs := newLogRecorder()
	src, err := New(path, &Options{Debounce: 20 * time.Millisecond, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	writeFile(t, path, goodV2)
	good := waitForFlag(t, src, "b")

	writeFile(t, path, broken)
	logs.waitFor(t, slog.LevelError, path+":4:")
	if src.Snapshot() != good {
		t.Error("a broken file replaced the snapshot")
	}
	if st := src.Status(); !st.Stale || st.Err == nil || !strings.Contains(st.Err.Error(), ":4:") {
		t.Errorf("Status = %+v, want stale with the error at line 4", st)
	}

	writeFile(t, path, goodV3)
	waitForFlag(t, src, "c")
	if st := src.Status(); st.Stale {
		t.Errorf("Status after the fix = %+v, want fresh", st)
	}

	// Written in place, as a plain editor does.
	if err := os.WriteFile(path, []byte(goodV2), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForFlag(t, src, "b")

	// Removed, then back.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, slog.LevelError, "no such file")
	if st := src.Status(); !st.Stale || !errors.Is(st.Err, os.ErrNotExist) {
		t.Errorf("Status of a removed file = %+v, want stale with ErrNotExist", st)
	}
	writeFile(t, path, goodV3)
	waitForFlag(t, src, "c")

	if err := src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestWatchConfigMap swaps a Kubernetes-style ..data symlink, as the
// kubelet does when a ConfigMap changes.
func TestWatchConfigMap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	dir := t.TempDir()
	mount := func(version, content string) {
		d := filepath.Join(dir, "..v"+version)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "flags.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..v"+version, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mount("1", goodV1)
	path := filepath.Join(dir, "flags.yaml")
	if err := os.Symlink(filepath.Join("..data", "flags.yaml"), path); err != nil {
		t.Fatal(err)
	}
	src, err := New(path, &Options{Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	mount("2", goodV2)
	waitForFlag(t, src, "b")
	os.RemoveAll(filepath.Join(dir, "..v1"))
	mount("3", goodV3)
	waitForFlag(t, src, "c")
}

// TestWatchSymlinkElsewhere follows a file that links into another
// directory.
func TestWatchSymlinkElsewhere(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	real := filepath.Join(t.TempDir(), "real.yaml")
	writeFile(t, real, goodV1)
	path := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	src, err := New(path, &Options{Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	writeFile(t, real, goodV2)
	waitForFlag(t, src, "b")
}

func TestSourceWithClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.yaml")
	writeFile(t, path, goodV1)
	src, err := New(path, &Options{NoWatch: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	client := flagon.NewClient(src, &flagon.Options{Logger: slog.New(slog.DiscardHandler)})
	defer client.Close()
	ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u"})
	if !client.Bool(ctx, "a", false) {
		t.Error("a = false, want true")
	}
	writeFile(t, path, "flags:\n  a: false\n  b: true\n")
	if err := src.Reload(); err != nil { // returns once subscribers have the snapshot
		t.Fatal(err)
	}
	if client.Bool(ctx, "a", true) || !client.Bool(ctx, "b", false) {
		t.Error("the client did not follow the reload")
	}
}
