# Per-CPU trace ring buffers (kernel/trace/ring_buffer.c semantics on fixed-size records).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t

cdef extern from "trace_event.h":
    enum trace_type:
        TRACE_FN
        TRACE_GRAPH_ENT
        TRACE_GRAPH_RET
    struct trace_event:
        uint64_t ts
        uint64_t calltime
        uint32_t ip
        uint32_t parent_ip
        int32_t pid
        uint16_t depth
        uint8_t type
        uint8_t cpu

ctypedef struct cpu_buffer_t:
    trace_event* events     # capacity records, used as a ring
    uint64_t capacity
    uint64_t head           # index (monotonic) of the oldest record still in the buffer
    uint64_t tail           # index (monotonic) of the next record to write
    uint64_t overrun        # records overwritten (overwrite mode)
    uint64_t dropped        # records refused because the buffer was full (producer/consumer mode)
    uint64_t read_lost      # records lost since the last consuming read (for [LOST N EVENTS])


cdef class RingBuffer:
    cdef cpu_buffer_t* cpus
    cdef readonly int ncpus
    cdef public bint overwrite
    cdef public bint record_on          # tracing_on: stops writes into the buffer, nothing else
    cdef uint64_t size_kb

    cdef trace_event* reserve(self, int cpu) noexcept

    # --- added by ring_buffer.pyx (implementation state; not part of the tracers' interface) ---
    cdef list _mem                      # per-CPU bytearray owning cpus[i].events (views keep it alive)
    cdef uint64_t* _read                # per-CPU count of events taken by consume() ("read events")
