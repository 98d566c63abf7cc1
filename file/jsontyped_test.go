package file

import (
	"os"
	"reflect"
	"testing"
)

// typedCases are JSON files that typedJSON must read itself, each with
// the definitions the general path reads from it.
func typedCases(t testing.TB) map[string][]byte {
	cases := map[string][]byte{"generated": genJSON(1000)}
	data, err := os.ReadFile("testdata/complete.json")
	if err != nil {
		t.Fatal(err)
	}
	cases["complete.json"] = data
	return cases
}

func TestTypedJSONMatchesGeneral(t *testing.T) {
	for name, data := range typedCases(t) {
		got, gotEnvs, ok := typedJSON(data)
		if !ok {
			t.Errorf("%s: typedJSON declined it", name)
			continue
		}
		p := newParser("x.json", data)
		want := p.parse(data)
		if len(p.errs) > 0 {
			t.Fatalf("%s: %v", name, p.err())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: typedJSON reads it differently:\n%s", name, diff(got, want))
		}
		if !reflect.DeepEqual(gotEnvs, p.envNames) {
			t.Errorf("%s: environments %q, want %q", name, gotEnvs, p.envNames)
		}
	}
}
