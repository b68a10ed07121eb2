//go:build !race

package main

// raceBuild says that the tests, and the binary they run (make race),
// are built with the race detector.
const raceBuild = false
