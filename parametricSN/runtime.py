"""Process-level runtime settings for CPU training.

glibc's malloc serves every allocation above its mmap threshold (at most 32 MiB by default) with a fresh
``mmap`` and returns it to the kernel on free, so a training step that allocates tens of large temporaries pays
a page fault per 4 KiB page each time. Keeping freed memory in the heap instead (the fix PyTorch's CPU
performance guide reaches with jemalloc/tcmalloc) makes the scattering's learnable step markedly faster on CPU:
see ``benchmarks/scattering.py --no-tune-allocator``. Applied by the ``psn`` command, never on import.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator(mmap_threshold: int = 2 ** 30, trim_threshold: int = 2 ** 31 - 1) -> bool:
    """Ask glibc malloc to keep large freed blocks for reuse. Returns whether the setting took effect
    (False off Linux/glibc, where this does nothing)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
