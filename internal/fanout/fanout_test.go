package fanout

import (
	"sync"
	"testing"
)

func TestEach(t *testing.T) {
	for _, tt := range []struct {
		name       string
		n, workers int
		want       int // workers that took a step
	}{
		{"nothing to do", 0, 4, 0},
		{"one worker", 10, 1, 1},
		{"no worker asked for", 10, 0, 1},
		{"fewer steps than workers", 2, 8, 2},
		{"more steps than workers", 100, 4, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := make([]int, tt.n)
			busy := map[int]bool{}
			// Every worker waits until all have started, where more than
			// one is wanted: so each takes a step, and they run at once.
			var started sync.WaitGroup
			started.Add(tt.want)
			first := map[int]bool{}
			Each(tt.n, tt.workers, func(w, i int) {
				mu.Lock()
				calls[i]++
				busy[w] = true
				isFirst := !first[w]
				first[w] = true
				mu.Unlock()
				if tt.want > 1 && isFirst {
					started.Done()
					started.Wait()
				}
			})
			for i, c := range calls {
				if c != 1 {
					t.Errorf("step %d taken %d times", i, c)
				}
			}
			if len(busy) != tt.want {
				t.Errorf("%d workers took steps, want %d", len(busy), tt.want)
			}
			for w := range busy {
				if w < 0 || w >= max(tt.workers, 1) {
					t.Errorf("worker number %d out of range", w)
				}
			}
		})
	}
}
