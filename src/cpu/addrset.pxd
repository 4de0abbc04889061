# Sorted address arrays searched at C level: the machine's fetch watch and ftrace's IpSet share this.
from libc.stdint cimport uint32_t


cdef inline Py_ssize_t find_u32(const uint32_t* a, Py_ssize_t n, uint32_t key) noexcept nogil:
    """Index of key in the ascending array a[0:n], or -1."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < n and a[lo] == key else -1
