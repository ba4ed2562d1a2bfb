package hub

import (
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// What a first touch of fresh memory costs on the machine the tests run
// on, the cost behind the Go heap's page faults when it grows
// (docs/performance.md, "The hub's heap: page faults and GC settings").
// Each benchmark writes one byte per 4 KB page of anonymous mappings of
// faultRegion bytes, one op per page, and reports the process's CPU
// (user and system, from getrusage: steadier than ns/op on a shared
// machine) and its minor page faults per page.

const (
	pageBytes   = 4 << 10
	faultRegion = 64 << 20
)

// rusage is the process's CPU time and minor page faults so far.
func rusage(tb testing.TB) (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
}

// mapRegion maps faultRegion bytes of anonymous memory, aligned to 2 MB
// so that a huge page can back each 2 MB of it, with advice applied
// (0: none).
func mapRegion(tb testing.TB, advice int) (mem, whole []byte) {
	whole, err := syscall.Mmap(-1, 0, faultRegion+2<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		tb.Fatal(err)
	}
	off := 0
	if a := addr(whole) % (2 << 20); a != 0 {
		off = int(2<<20 - a)
	}
	mem = whole[off : off+faultRegion]
	if advice != 0 {
		if err := syscall.Madvise(mem, advice); err != nil {
			tb.Fatal(err)
		}
	}
	return mem, whole
}

// addr is the address of b's first byte.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// touch writes one byte in each of the first n pages of mem.
func touch(mem []byte, n int) {
	for i := range n {
		mem[i*pageBytes] = 1
	}
}

// benchTouch runs b.N page touches over fresh regions. prepare, if set,
// runs on each region (untimed) before its pages are touched.
func benchTouch(b *testing.B, advice int, prepare func(b *testing.B, mem []byte)) {
	var cpu time.Duration
	var faults int64
	for left := b.N; left > 0; {
		n := min(left, faultRegion/pageBytes)
		left -= n
		b.StopTimer()
		mem, whole := mapRegion(b, advice)
		if prepare != nil {
			prepare(b, mem)
		}
		c0, f0 := rusage(b)
		b.StartTimer()
		touch(mem, n)
		b.StopTimer()
		c1, f1 := rusage(b)
		cpu += c1 - c0
		faults += f1 - f0
		if err := syscall.Munmap(whole); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/page")
	b.ReportMetric(float64(faults)/float64(b.N), "faults/page")
}

// BenchmarkFirstTouch: a page's first write, as the Go heap's fresh spans
// take it (4 KB pages: one minor fault each, the kernel zeroing the
// page), and the same region advised MADV_HUGEPAGE (where transparent
// huge pages are "madvise", one fault per 2 MB and a 2 MB zeroing).
func BenchmarkFirstTouch(b *testing.B) {
	b.Run("4k", func(b *testing.B) { benchTouch(b, 0, nil) })
	b.Run("hugepage", func(b *testing.B) { benchTouch(b, syscall.MADV_HUGEPAGE, nil) })
}

// BenchmarkRetouch: a write to pages already faulted in (the floor a
// fault's cost is measured against), and to pages the Go scavenger gave
// back by MADV_DONTNEED (Linux's default, GODEBUG=madvdontneed=1: the next
// write faults a zeroed page in again) or by MADV_FREE
// (GODEBUG=madvdontneed=0: while the kernel has not reclaimed them, the
// pages stay mapped and the next write does not fault).
func BenchmarkRetouch(b *testing.B) {
	resident := func(b *testing.B, mem []byte) { touch(mem, len(mem)/pageBytes) }
	b.Run("resident", func(b *testing.B) { benchTouch(b, 0, resident) })
	for name, advice := range map[string]int{"dontneed": syscall.MADV_DONTNEED, "free": madvFree} {
		b.Run(name, func(b *testing.B) {
			benchTouch(b, 0, func(b *testing.B, mem []byte) {
				resident(b, mem)
				if err := syscall.Madvise(mem, advice); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// madvFree is Linux's MADV_FREE (the syscall package has no name for it).
const madvFree = 8

// TestFirstTouchFaults checks what the benchmarks' figures rest on: the
// first write to a page of a fresh mapping is a minor fault, a second
// write is none, and a write after MADV_DONTNEED faults again.
func TestFirstTouchFaults(t *testing.T) {
	mem, whole := mapRegion(t, 0)
	defer syscall.Munmap(whole)
	const n = 256
	_, f0 := rusage(t)
	touch(mem, n)
	_, f1 := rusage(t)
	touch(mem, n)
	_, f2 := rusage(t)
	if err := syscall.Madvise(mem[:n*pageBytes], syscall.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	_, f3 := rusage(t)
	touch(mem, n)
	_, f4 := rusage(t)
	if first, again, dropped := f1-f0, f2-f1, f4-f3; first < n || again > n/16 || dropped < n {
		t.Errorf("faults for %d pages: first touch %d, second %d, after MADV_DONTNEED %d", n, first, again, dropped)
	}
}
