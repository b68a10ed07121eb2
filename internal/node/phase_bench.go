//go:build benchphase

// phase_bench.go: a build for make bench, and only for it (-tags
// benchphase), says on standard error how long a phase took: a part of a
// run, timed from inside, where timing the whole run would bury it under
// the process's start and the rest.

package node

import (
	"fmt"
	"os"
	"time"
)

func phaseTook(name string, began time.Time) {
	fmt.Fprintf(os.Stderr, "invoke_ns: %s took %d µs\n", name, time.Since(began).Microseconds())
}
