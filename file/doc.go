// Package file serves Flagon flags from a YAML or JSON config file, with
// per-environment settings, and reloads them when the file changes.
//
// Start with a file such as
//
//	audiences:
//	  staff: is_staff == true
//	flags:
//	  new-home-page:
//	    description: Expose the new home page
//	    rules:
//	      - audience: staff
//	        serve: true
//	    rollout: 10        # everyone else: on for 10%
//	environments:
//	  production:
//	    new-home-page: {enabled: false}
//
// and give it to a client:
//
//	src, err := file.New("flags.yaml", &file.Options{Environment: "production"})
//	if err != nil {
//		log.Fatal(err) // flags.yaml:7: flag "new-home-page": rules[0].audience: unknown audience "staf"
//	}
//	defer src.Close()
//	client := flagon.NewClient(src, nil)
//
// The format, with every field, is described in docs/config-format.md and
// shown whole in testdata/complete.yaml. JSON files use the same fields.
//
// A [Source] watches the file's directory (so it sees editors that save by
// renaming, and Kubernetes ConfigMap updates) and reloads after a short
// debounce. A broken file is rejected whole: the Source logs each problem
// with its file, line and field, keeps serving the last good flags, and
// reports the error in Status until the file is fixed. A broken file at
// start makes [New] fail.
//
// [Parse] reads a file's bytes into [flagon.Definitions] and [Encode]
// writes them back, for tools that import and export flags; Parse reads
// exactly what Encode writes.
package file
