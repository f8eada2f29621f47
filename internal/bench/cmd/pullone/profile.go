package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// profiles are the optional pprof outputs of the timed pull.
type profiles struct {
	cpu     *os.File
	memPath string
	done    chan struct{}
	wg      sync.WaitGroup
	err     error // from the heap sampler
}

// startProfiles starts CPU profiling and, for the memory profile, a sampler
// that rewrites the heap profile whenever live heap reaches a new high (by
// 10%): a heap profile taken at the end would show what survived the pull,
// not what made its peak.
func startProfiles(cpuPath, memPath string) (*profiles, error) {
	p := &profiles{memPath: memPath, done: make(chan struct{})}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		p.cpu = f
	}
	if memPath != "" {
		p.wg.Add(1)
		go p.sampleHeap()
	}
	return p, nil
}

func (p *profiles) sampleHeap() {
	defer p.wg.Done()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak+peak/10 {
			peak = v
			// The heap profile is as of the last GC; force one so it is now.
			runtime.GC()
			if err := writeProfile("heap", p.memPath); err != nil {
				p.err = err
				return
			}
		}
	}
}

func (p *profiles) stop() error {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	if p.memPath == "" {
		return nil
	}
	close(p.done)
	p.wg.Wait()
	if p.err != nil {
		return p.err
	}
	return writeProfile("allocs", p.memPath+".allocs")
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("%s profile: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	return nil
}
