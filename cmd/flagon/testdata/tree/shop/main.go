package main

import "github.com/flagon/flagon"

var newHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func main() {}
