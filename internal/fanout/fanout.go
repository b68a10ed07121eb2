// Package fanout runs the steps of a job on as many goroutines at once
// as asked, each step once, by index: what --scan does for each process
// and each namespace of a node, one worker per CPU.
package fanout

import (
	"sync"
	"sync/atomic"
)

// Each calls fn(w, i) for each i from 0 to n-1, on workers goroutines at
// once (at least one, at most n), w being the worker's own number from 0,
// and returns when every call has returned. The steps are taken in order
// of i, each by the first worker free.
func Each(n, workers int, fn func(w, i int)) {
	workers = min(max(workers, 1), n)
	if workers <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	// Each worker takes the next step itself: handing steps over a
	// channel would wake a sleeping worker for each, and a step here is
	// a few system calls.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(w, i)
			}
		})
	}
	wg.Wait()
}
