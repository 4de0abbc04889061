/* The trace record, defined once: Cython writes it (ring_buffer.pxd includes this header) and Python reads
 * it zero-copy through cffi (events.py cdefs this file).  One fixed-size record for every event type, like the
 * kernel's struct ftrace_entry / ftrace_graph_ent_entry / ftrace_graph_ret_entry (kernel/trace/trace_entries.h)
 * folded into one layout. */
#ifndef FTRACE_TRACE_EVENT_H
#define FTRACE_TRACE_EVENT_H
#include <stdint.h>

enum trace_type {
    TRACE_FN = 1,         /* function: ip <- parent_ip */
    TRACE_GRAPH_ENT = 2,  /* funcgraph_entry: func (ip), depth */
    TRACE_GRAPH_RET = 3,  /* funcgraph_exit: func (ip), depth, calltime, rettime (ts), overrun (parent_ip) */
};

struct trace_event {
    uint64_t ts;          /* trace clock, ns (rettime for TRACE_GRAPH_RET) */
    uint64_t calltime;    /* TRACE_GRAPH_RET: entry time, ns */
    uint32_t ip;          /* the traced function's call site (rec->ip) or, for graph events, its address */
    uint32_t parent_ip;   /* TRACE_FN: the caller's return address; TRACE_GRAPH_RET: overrun count */
    int32_t pid;
    uint16_t depth;
    uint8_t type;
    uint8_t cpu;
};
#endif
