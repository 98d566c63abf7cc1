module github.com/flagon/flagon/ofprovider

go 1.26.8

require (
	github.com/flagon/flagon v0.0.0-00010101000000-000000000000
	github.com/open-feature/go-sdk v1.20.0
)

require go.uber.org/mock v0.6.0 // indirect

// Inside the Flagon repository the provider builds against the Flagon next
// to it. Users of a tagged release drop this line (go get picks the
// matching github.com/flagon/flagon version).
replace github.com/flagon/flagon => ../
