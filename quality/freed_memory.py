"""What the gate frees goes back to the system, so a delivery's peak memory is what it holds.

Two allocators keep freed memory for reuse by default: pyarrow's mimalloc pool, and glibc's
malloc, whose threshold for mapping a block on its own rises (up to 32 MiB) each time such a
block is freed, after which pandas' and NumPy's column-sized arrays come from a heap it does not
give back. At 10M wide rows the process grew group by group through GX's column groups from 1.0
to 1.7 GiB while Arrow itself held 0.2–0.6 GiB (`./dev bench shell`). The gate therefore uses
pyarrow's system pool and a fixed mmap threshold: a block of 1 MiB or more is mapped on its own
and unmapped when freed. At 10M wide rows: peak 1.75–1.79 → 1.50 GiB, the run's time unchanged
within the machine's noise (A/B, `./dev bench shell --only wide`; 128 KiB was as small and
slower).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 1 << 20

_lock = threading.Lock()
_done = False


def return_freed_memory() -> None:
    """Switch this process to allocators that give freed memory back (once; glibc only for the
    threshold: elsewhere `mallopt` does not exist and malloc is left as it is)."""
    global _done
    with _lock:
        if _done:
            return
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _done = True
