//go:build !benchphase

// phase.go: in the binary users run, the time a phase took is not shown
// (phase_bench.go shows it, for make bench).

package node

import "time"

func phaseTook(name string, began time.Time) {}
