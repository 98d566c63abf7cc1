module github.com/flagon/flagon

go 1.26.8
