package labtest

import (
	"runtime"
	"time"
)

// HeapPeak samples the heap in use every millisecond from now on, for the
// benchmarks that report peak memory against the lab; the function it
// returns stops sampling and says the peak above the start, in bytes.
func HeapPeak() func() float64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := base.HeapInuse
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	return func() float64 {
		close(done)
		<-sampled
		return float64(peak - base.HeapInuse)
	}
}
