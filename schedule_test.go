package flagon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func ExampleRolloutSteps() {
	f := flagon.StoredFlag{Flag: flagon.Flag{Key: "new-checkout"}, Version: 4}
	at := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	steps, err := flagon.RolloutSteps(f, "", "on", []float64{10, 50, 100}, []time.Time{at, at.Add(24 * time.Hour), at.Add(72 * time.Hour)})
	if err != nil {
		panic(err)
	}
	for _, sc := range steps {
		fmt.Println(sc.At.Format(time.DateOnly), sc.BaseVersion, sc.Definition.Fallthrough)
	}
	// Output:
	// 2030-06-01 4 { [{on 10} {off 90}] }
	// 2030-06-02 4 { [{on 50} {off 50}] }
	// 2030-06-04 4 {on [] }
}

func TestRolloutStepsRefuses(t *testing.T) {
	f := flagon.StoredFlag{Flag: flagon.Flag{Key: "k"}}
	at := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		variant  string
		percents []float64
		times    []time.Time
		want     string
	}{
		{"no steps", "on", nil, nil, "0 percents for 0 times"},
		{"mismatched", "on", []float64{10}, []time.Time{at, at}, "1 percents for 2 times"},
		{"zero percent", "on", []float64{0}, []time.Time{at}, "not in (0, 100]"},
		{"over 100", "on", []float64{101}, []time.Time{at}, "not in (0, 100]"},
		{"out of order", "on", []float64{10, 20}, []time.Time{at, at}, "step 2 is not after step 1"},
		{"the default", "off", []float64{10}, []time.Time{at}, "already the default"},
	} {
		_, err := flagon.RolloutSteps(f, "", tc.variant, tc.percents, tc.times)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

func TestRolloutStepsEnvironment(t *testing.T) {
	off := "off"
	f := flagon.StoredFlag{Flag: flagon.Flag{Key: "k", Environments: map[string]flagon.EnvSettings{"production": {Default: &off}}}}
	at := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	steps, err := flagon.RolloutSteps(f, "production", "on", []float64{25}, []time.Time{at})
	if err != nil {
		t.Fatal(err)
	}
	got := steps[0]
	if got.Environment != "production" || got.Definition.Fallthrough.Variant != "" || len(got.Definition.Fallthrough.Split) != 0 {
		t.Errorf("step changed the flag-wide fallthrough: %+v", got.Definition.Fallthrough)
	}
	if e := got.Definition.Environments["production"]; e.Fallthrough == nil || len(e.Fallthrough.Split) != 2 || e.Fallthrough.Split[0].Percent != 25 || *e.Default != "off" {
		t.Errorf("production settings = %+v, want 25%% on and the default kept", e)
	}
	if f.Environments["production"].Fallthrough != nil {
		t.Errorf("RolloutSteps changed the flag it was given")
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the step is invalid: %v", err)
	}
}

func TestScheduledChangeValidate(t *testing.T) {
	at := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	ok := flagon.ScheduledChange{Flag: "k", At: at, Definition: flagon.Flag{Key: "k", Rules: []flagon.Rule{{Audiences: []string{"later"}, Serve: flagon.Serve{Variant: "on"}}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a change naming an audience the store checks later: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*flagon.ScheduledChange)
		field string
	}{
		{"bad key", func(sc *flagon.ScheduledChange) { sc.Flag = "K K" }, "flag"},
		{"other flag", func(sc *flagon.ScheduledChange) { sc.Definition.Key = "j" }, "definition.key"},
		{"no time", func(sc *flagon.ScheduledChange) { sc.At = time.Time{} }, "at"},
		{"bad environment", func(sc *flagon.ScheduledChange) { sc.Environment = "Prod Env" }, "environment"},
		{"bad definition", func(sc *flagon.ScheduledChange) { sc.Definition.Default = "maybe" }, "definition.default"},
	} {
		sc := ok
		tc.edit(&sc)
		err := sc.Validate()
		fes, isFE := err.(flagon.FieldErrors)
		if !isFE || len(fes) == 0 || fes[0].Field != tc.field {
			t.Errorf("%s: %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
}
