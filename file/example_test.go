package file_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
)

func ExampleParse() {
	src := `
audiences:
  staff: is_staff == true
flags:
  new-home-page:
    description: Expose the new home page
    rules:
      - audience: staff
        serve: true
    rollout: 10
`
	defs, err := file.Parse("flags.yaml", []byte(src))
	if err != nil {
		log.Fatal(err)
	}
	f, _ := defs.Flag("new-home-page")
	fmt.Println(f.Description)
	fmt.Println(f.Rules[0].Audiences, "->", f.Rules[0].Serve.Variant)
	fmt.Println(f.Fallthrough.Split)

	// A broken file is rejected whole, with the line and field of each
	// problem.
	_, err = file.Parse("flags.yaml", []byte(`
flags:
  new-home-page:
    rules:
      - audience: staf
        serve: true
`))
	fmt.Println(err)
	// Output:
	// Expose the new home page
	// [staff] -> on
	// [{on 10} {off 90}]
	// flags.yaml:5: flag "new-home-page": rules[0].audience: unknown audience "staf"
}

func ExampleNew() {
	dir, err := os.MkdirTemp("", "flagon-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "flags.yaml")
	err = os.WriteFile(path, []byte(`
audiences:
  staff: is_staff == true
flags:
  new-home-page:
    rules:
      - audience: staff
        serve: true
environments:
  production:
    new-home-page: {enabled: false}
`), 0o644)
	if err != nil {
		log.Fatal(err)
	}

	quiet := slog.New(slog.DiscardHandler)
	for _, env := range []string{"staging", "production"} {
		src, err := file.New(path, &file.Options{Environment: env, Logger: quiet})
		if err != nil {
			log.Fatal(err)
		}
		client := flagon.NewClient(src, &flagon.Options{Logger: quiet})
		ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{
			Key:   "user-1",
			Attrs: map[string]any{"is_staff": true},
		})
		on, detail := client.BoolDetail(ctx, "new-home-page", false)
		fmt.Println(env, on, detail.Reason)
		client.Close()
		src.Close()
	}
	// Output:
	// staging true TARGETING_MATCH
	// production false DISABLED
}
