"""ftrace_ops, their filter/notrace hashes, and the filter syntax (kernel/trace/ftrace.c v3.6: struct ftrace_ops,
struct ftrace_hash, ftrace_ops_test(), __ftrace_hash_rec_update(), ftrace_match_records(); and
kernel/trace/trace_events_filter.c: filter_parse_regex())."""
from ftrace.kernel.records import FTRACE_FL_MASK, FTRACE_REF_MAX

FTRACE_OPS_FL_ENABLED = 1 << 0
FTRACE_OPS_FL_GLOBAL = 1 << 1
FTRACE_OPS_FL_DYNAMIC = 1 << 2

MATCH_FULL, MATCH_FRONT_ONLY, MATCH_MIDDLE_ONLY, MATCH_END_ONLY = range(4)


class FtraceError(Exception):
    """An ftrace operation the kernel would refuse (-EINVAL, -EBUSY, -ENODEV ...): errno and message."""

    def __init__(self, errno_name, message):
        self.errno = errno_name
        super().__init__(f"{message} ({errno_name})")


class ftrace_hash:
    """A set of record ips (the kernel hashes them into 2^size_bits buckets; a set is the same contract)."""
    __slots__ = ("ips",)

    def __init__(self, ips=()):
        self.ips = set(ips)

    @property
    def count(self):
        return len(self.ips)

    def __contains__(self, ip):
        return ip in self.ips

    def copy(self):
        return ftrace_hash(self.ips)

    def empty(self):
        return not self.ips


EMPTY_HASH = ftrace_hash()


class ftrace_ops:
    """A user of the function hook: func is an ftrace.kernel.tracers.OpsFunc (built in, cffi or Python)."""

    def __init__(self, func, name="ops", flags=0):
        self.func = func
        self.name = name
        self.flags = flags
        self.filter_hash = ftrace_hash()
        self.notrace_hash = ftrace_hash()
        self.tramp = None          # the host-call trampoline index ftrace_call uses for this ops alone

    def __repr__(self):
        return f"<ftrace_ops {self.name}>"


def ftrace_ops_test(ops, ip):
    """Traced iff (filter empty or ip in filter) and (notrace empty or ip not in notrace)."""
    return (ops.filter_hash.empty() or ip in ops.filter_hash) and \
        (ops.notrace_hash.empty() or ip not in ops.notrace_hash)


def hash_rec_update(ops, records, filter_hash, inc, ftrace_warn_on):
    """__ftrace_hash_rec_update: move the record refcounts by one for every site ops selects; a refcount that
    reaches FTRACE_REF_MAX or would go below 0 is FTRACE_WARN_ON (which kills ftrace) and stops the walk."""
    if not ops.flags & FTRACE_OPS_FL_ENABLED:
        return
    if filter_hash:
        hash_, other = ops.filter_hash, ops.notrace_hash
        all_ = hash_.empty()
    else:
        inc = not inc
        hash_, other = ops.notrace_hash, ops.filter_hash
        if hash_.empty():
            return
        all_ = False
    for rec in records:
        in_other = rec.ip in other
        in_hash = rec.ip in hash_
        if filter_hash:
            match = (all_ or in_hash) and not (other.count and in_other)
        else:
            match = in_hash and (other.empty() or in_other)
        if not match:
            continue
        if inc:
            rec.flags += 1
            if ftrace_warn_on(rec.flags & ~FTRACE_FL_MASK == FTRACE_REF_MAX):
                return
        else:
            if ftrace_warn_on(rec.flags & ~FTRACE_FL_MASK == 0):
                return
            rec.flags -= 1


def filter_parse_regex(token):
    """(kind, search, negate) for one filter token, v3.6 rules: anything after a non-leading '*' is cut."""
    negate = token.startswith("!")
    if negate:
        token = token[1:]
    kind = MATCH_FULL
    search = token
    for i, ch in enumerate(token):
        if ch == "*":
            if i == 0:
                search = token[1:]
                kind = MATCH_END_ONLY
            else:
                if kind == MATCH_END_ONLY:
                    kind = MATCH_MIDDLE_ONLY
                else:
                    kind = MATCH_FRONT_ONLY
                search = token[(1 if kind == MATCH_MIDDLE_ONLY else 0):i]
                break
    return kind, search, negate


def ftrace_match(name, kind, search):
    if kind == MATCH_FULL:
        return name == search
    if kind == MATCH_FRONT_ONLY:
        return name.startswith(search)
    if kind == MATCH_MIDDLE_ONLY:
        return search in name
    return name.endswith(search)


def apply_filter(hash_, records, text, what="filter"):
    """ftrace_match_records for each whitespace-separated token of text, into hash_ (modified in place).

    A token that matches nothing raises FtraceError(EINVAL), as the kernel's write fails.
    """
    for token in text.split():
        kind, search, negate = filter_parse_regex(token)
        hit = False
        for rec in records:
            if rec.func is not None and ftrace_match(rec.func, kind, search):
                hit = True
                if negate:
                    hash_.ips.discard(rec.ip)
                else:
                    hash_.ips.add(rec.ip)
        if not hit:
            raise FtraceError("EINVAL", f"{what}: {token!r} matches no function in available_filter_functions")
    return hash_
