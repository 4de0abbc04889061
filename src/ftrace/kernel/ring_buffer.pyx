# Per-CPU trace ring buffers: kernel/trace/ring_buffer.c semantics on fixed-size records.
#
# One ring of `struct trace_event` (trace_event.h, 32 bytes) per CPU, capacity = buffer_size_kb * 1024 //
# sizeof(struct trace_event) records.  Writers are C: a tracer calls `rb.reserve(cpu)` and fills the returned
# slot (no Python object is touched per event).  Everything else is the Python side of the tracefs files.
#
# Indices.  `head` and `tail` are monotonic 64-bit event counters (oldest record still in the buffer, next record
# to write); the slot of counter n is n % capacity.  Invariant: 0 <= tail - head <= capacity, capacity >= 32.
# Every array index below is either `n % capacity` or a value in [0, capacity] derived from those, and every
# CPU number used to index `cpus`/`_read`/`_mem` is checked against ncpus first (boundscheck is off globally).
#
# Differences from the kernel, on purpose:
#   - the unit is one record, not one page: an overwrite drops exactly one (the oldest) record and counts one
#     overrun; the kernel drops a whole page of events at a time.
#   - no reader page: consume() hands out a view of slots that are free again as soon as it returns.  The writers
#     of this simulator run on the caller's thread, so a view is valid until the machine runs again (format it
#     first, or copy it with bytes(view)).  The same holds for snapshot() (the kernel stops writes while `trace`
#     is open; callers that want that set record_on = False while they read).
#   - setting buffer_size_kb always reallocates and clears every CPU buffer (older views keep the old memory
#     alive, they do not dangle).
#   - "bytes:" in stats is entries * sizeof(struct trace_event) (records carry no separate header here).
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t

TRACE_FN_TYPE = TRACE_FN
TRACE_GRAPH_ENT_TYPE = TRACE_GRAPH_ENT
TRACE_GRAPH_RET_TYPE = TRACE_GRAPH_RET
EVENT_SIZE = sizeof(trace_event)
MAX_CPUS = 256                  # trace_event.cpu is a uint8_t


cdef inline tuple _usecs(uint64_t ns):
    # kernel ns2usecs() rounds to the nearest microsecond, then do_div(t, USEC_PER_SEC) -> (secs, usec_rem)
    cdef uint64_t t = (ns + 500) // 1000
    return (t // 1000000, t % 1000000)


# Helpers are module-level functions, not cdef methods, so that the RingBuffer vtable stays exactly what
# ring_buffer.pxd declares (reserve only).

cdef uint64_t _check_size(object size_kb) except 0:
    size_kb = int(size_kb)
    if size_kb < 1:
        raise ValueError(f"buffer_size_kb must be >= 1, got {size_kb}")
    if size_kb > (1 << 32):
        raise ValueError(f"buffer_size_kb too large: {size_kb}")
    return <uint64_t>size_kb


cdef int _cpu(RingBuffer self, object cpu) except -1:
    cdef long c = cpu          # TypeError for non-integers
    if c < 0 or c >= self.ncpus:
        raise ValueError(f"cpu {cpu} out of range (ncpus={self.ncpus})")
    return <int>c


cdef int _allocate(RingBuffer self, uint64_t size_kb) except -1:
    cdef uint64_t cap = size_kb * 1024 // sizeof(trace_event)
    cdef int i
    # allocate everything first: on MemoryError the old buffers stay untouched
    mem = [bytearray(cap * sizeof(trace_event)) for i in range(self.ncpus)]
    for i in range(self.ncpus):
        self.cpus[i].events = <trace_event*>PyByteArray_AS_STRING(mem[i])
        self.cpus[i].capacity = cap
        _clear(self, i)
    self._mem = mem
    self.size_kb = size_kb
    return 0


cdef void _clear(RingBuffer self, int i) noexcept:
    # i is always a checked CPU number
    cdef cpu_buffer_t* b = &self.cpus[i]
    b.head = 0
    b.tail = 0
    b.overrun = 0
    b.dropped = 0
    b.read_lost = 0
    self._read[i] = 0


cdef object _view(RingBuffer self, int cpu, uint64_t start, uint64_t stop):
    # read-only view of slots [start, stop) of `cpu`; 0 <= start <= stop <= capacity
    cdef Py_ssize_t size = sizeof(trace_event)
    return memoryview(self._mem[cpu])[<Py_ssize_t>start * size:<Py_ssize_t>stop * size].toreadonly()


cdef class RingBuffer:
    """Per-CPU ring buffers of struct trace_event.

    RingBuffer(ncpus, buffer_size_kb=1408, overwrite=True)

    Writers (C):   cdef trace_event* reserve(int cpu) noexcept   -- NULL when not recorded
    Readers (Py):  snapshot(cpu) (non-consuming, the `trace` file), consume(cpu, max_events) (`trace_pipe`)
    Counters (Py): entries, overrun, dropped, written, read_events, stats (per_cpu/cpuN/stats)
    """

    def __cinit__(self, int ncpus, buffer_size_kb=1408, overwrite=True):
        self.cpus = NULL
        self._read = NULL
        self._mem = None
        if ncpus < 1 or ncpus > MAX_CPUS:
            raise ValueError(f"ncpus must be in 1..{MAX_CPUS}, got {ncpus}")
        self.ncpus = ncpus
        self.overwrite = bool(overwrite)
        self.record_on = True
        self.cpus = <cpu_buffer_t*>PyMem_Calloc(ncpus, sizeof(cpu_buffer_t))
        self._read = <uint64_t*>PyMem_Calloc(ncpus, sizeof(uint64_t))
        if self.cpus == NULL or self._read == NULL:
            raise MemoryError()
        _allocate(self, _check_size(buffer_size_kb))

    def __dealloc__(self):
        # the bytearrays in _mem own the event memory; only the bookkeeping arrays are ours
        PyMem_Free(self.cpus)
        PyMem_Free(self._read)

    # ---------------------------------------------------------------------------------------------- C writers

    cdef trace_event* reserve(self, int cpu) noexcept:
        """The slot for the next event of `cpu`, to be filled by the caller, or NULL if it is not recorded:
        record_on false (tracing_on = 0), cpu out of range, or the buffer is full in producer/consumer mode
        (counted in `dropped`).  In overwrite mode a full ring drops its oldest record (overrun, and a lost
        event for the next consuming read).  The slot's `cpu` field is set; the caller sets the others."""
        cdef cpu_buffer_t* b
        cdef trace_event* ev
        if not self.record_on:
            return NULL
        if <unsigned int>cpu >= <unsigned int>self.ncpus:
            return NULL
        b = &self.cpus[cpu]
        if b.tail - b.head >= b.capacity:
            if not self.overwrite:
                b.dropped += 1
                return NULL
            b.head += 1
            b.overrun += 1
            b.read_lost += 1
        ev = &b.events[b.tail % b.capacity]
        b.tail += 1
        ev.cpu = <uint8_t>cpu
        return ev

    # ---------------------------------------------------------------------------------------------- tracefs

    @property
    def buffer_size_kb(self):
        """Per-CPU size in KiB (tracefs buffer_size_kb).  Setting it resizes every CPU and clears them."""
        return self.size_kb

    @buffer_size_kb.setter
    def buffer_size_kb(self, value):
        _allocate(self, _check_size(value))

    @property
    def buffer_total_size_kb(self):
        return self.size_kb * <uint64_t>self.ncpus

    @property
    def capacity(self):
        """Records per CPU: buffer_size_kb * 1024 // sizeof(struct trace_event)."""
        return self.cpus[0].capacity

    def reset(self, cpu=None):
        """Clear one CPU buffer (per_cpu/cpuN/trace O_TRUNC) or all of them (`echo > trace`): events and every
        counter (entries, overrun, dropped, read events, pending lost events)."""
        cdef int i
        if cpu is None:
            for i in range(self.ncpus):
                _clear(self, i)
        else:
            _clear(self, _cpu(self, cpu))

    def entries(self, cpu):
        """Events currently in the buffer of `cpu` (not yet overwritten or consumed)."""
        cdef cpu_buffer_t* b = &self.cpus[_cpu(self, cpu)]
        return b.tail - b.head

    def overrun(self, cpu):
        """Events lost to overwriting (overwrite mode)."""
        return self.cpus[_cpu(self, cpu)].overrun

    def dropped(self, cpu):
        """Events refused because the buffer was full (producer/consumer mode)."""
        return self.cpus[_cpu(self, cpu)].dropped

    def written(self, cpu):
        """entries + overrun: the kernel's "entries-written" (get_total_entries; consumed events not counted)."""
        cdef cpu_buffer_t* b = &self.cpus[_cpu(self, cpu)]
        return (b.tail - b.head) + b.overrun

    def read_events(self, cpu):
        """Events taken by consume() since the last reset ("read events:" in stats)."""
        return self._read[_cpu(self, cpu)]

    def stats(self, cpu, now_ts=0):
        """Text of per_cpu/cpuN/stats (kernel trace.c tracing_stats_read, v3.10+ form with the dropped/read
        lines), every line newline-terminated.  `now_ts` is the caller's trace clock in ns; "oldest event ts"
        is the ts of the oldest event in the buffer (0 when empty).  Times use ns2usecs() rounding."""
        cdef int c = _cpu(self, cpu)
        cdef cpu_buffer_t* b = &self.cpus[c]
        cdef uint64_t n = b.tail - b.head
        cdef uint64_t oldest = b.events[b.head % b.capacity].ts if n else 0
        os, ou = _usecs(oldest)
        ns, nu = _usecs(<uint64_t>now_ts)
        return (f"entries: {n}\n"
                f"overrun: {b.overrun}\n"
                f"commit overrun: 0\n"
                f"bytes: {n * sizeof(trace_event)}\n"
                f"oldest event ts: {os:5d}.{ou:06d}\n"
                f"now ts: {ns:5d}.{nu:06d}\n"
                f"dropped events: {b.dropped}\n"
                f"read events: {self._read[c]}\n")

    # ---------------------------------------------------------------------------------------------- readers

    def snapshot(self, cpu):
        """Non-consuming read of `cpu` (the `trace` file): the events in the buffer, oldest first, as a tuple of
        read-only zero-copy memoryviews (format 'B', a multiple of EVENT_SIZE bytes each) over the ring itself.
        Never copies: one piece when the events are contiguous, two when the ring wraps ([head..end), [0..tail)),
        () when empty.  Views see later writes (see the module comment for their lifetime)."""
        cdef int c = _cpu(self, cpu)
        cdef cpu_buffer_t* b = &self.cpus[c]
        cdef uint64_t n = b.tail - b.head
        cdef uint64_t start = b.head % b.capacity
        cdef uint64_t first
        if n == 0:
            return ()
        if start + n <= b.capacity:
            return (_view(self, c, start, start + n),)
        first = b.capacity - start
        return (_view(self, c, start, b.capacity), _view(self, c, 0, n - first))

    def consume(self, cpu, max_events=None):
        """Consuming read of `cpu` (trace_pipe): (view, lost).

        `view` is a read-only zero-copy memoryview of up to `max_events` oldest events (all by default), which
        are removed from the buffer; it stops at the end of the ring, so a wrapped buffer takes two calls (an
        empty view means the buffer is empty).  `lost` is the number of events overwritten since the previous
        consuming read of this CPU (print format_lost(cpu, lost) before these events when it is non-zero)."""
        cdef int c = _cpu(self, cpu)
        cdef cpu_buffer_t* b = &self.cpus[c]
        cdef uint64_t avail = b.tail - b.head
        cdef uint64_t start = b.head % b.capacity
        cdef uint64_t n = avail
        cdef uint64_t lost
        if max_events is not None:
            if max_events < 0:
                raise ValueError(f"max_events must be >= 0, got {max_events}")
            if max_events < n:
                n = <uint64_t>max_events
        if n > b.capacity - start:
            n = b.capacity - start
        view = _view(self, c, start, start + n)
        b.head += n
        self._read[c] += n
        lost = b.read_lost
        b.read_lost = 0
        return view, lost

    def _write(self, cpu, ts=0, calltime=0, ip=0, parent_ip=0, pid=0, depth=0, type=TRACE_FN):
        """Python-level writer for tests and tools: reserve(cpu) + fill.  True if recorded, False if not
        (tracing off or dropped).  Field values out of their C range raise OverflowError before anything is
        reserved.  The real writers are the C tracers."""
        cdef int c = _cpu(self, cpu)
        cdef uint64_t c_ts = ts, c_calltime = calltime
        cdef uint32_t c_ip = ip, c_parent_ip = parent_ip
        cdef int32_t c_pid = pid
        cdef uint16_t c_depth = depth
        cdef uint8_t c_type = type
        cdef trace_event* ev = self.reserve(c)
        if ev == NULL:
            return False
        ev.ts = c_ts
        ev.calltime = c_calltime
        ev.ip = c_ip
        ev.parent_ip = c_parent_ip
        ev.pid = c_pid
        ev.depth = c_depth
        ev.type = c_type
        return True

    def __repr__(self):
        return (f"RingBuffer(ncpus={self.ncpus}, buffer_size_kb={self.size_kb}, overwrite={bool(self.overwrite)}, "
                f"record_on={bool(self.record_on)})")
