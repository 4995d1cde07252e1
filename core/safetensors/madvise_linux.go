package safetensors

import "syscall"

// dontNeed tells the kernel the mapped pages b will not be read again, so that they leave the
// page cache's share of this process; it is advice, and an error changes nothing.
func dontNeed(b []byte) { syscall.Madvise(b, syscall.MADV_DONTNEED) }
