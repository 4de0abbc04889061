"""dyn_ftrace records and their pages (kernel/trace/ftrace.c v3.6: struct dyn_ftrace, ftrace_pages,
ftrace_location(), ftrace_check_record(), ftrace_update_record(), ftrace_test_record())."""
import bisect

FTRACE_FL_ENABLED = 1 << 30
FTRACE_FL_MASK = 3 << 30
FTRACE_REF_MAX = (1 << 30) - 1

FTRACE_UPDATE_IGNORE = 0
FTRACE_UPDATE_MAKE_CALL = 1
FTRACE_UPDATE_MAKE_NOP = 2

ENTRIES_PER_PAGE = 4096 // 8      # PAGE_SIZE / sizeof(struct dyn_ftrace) on a 32-bit kernel


class dyn_ftrace:
    """One mcount call site: ip (the BL), flags (refcount in the low bits, ENABLED = the site calls now), and
    the arch part (dyn_arch_ftrace): the function it belongs to and where that function saved its LR."""
    __slots__ = ("ip", "flags", "func", "func_addr", "lr_offset", "frame_size")

    def __init__(self, ip, func=None, func_addr=None, lr_offset=None, frame_size=None):
        self.ip = ip
        self.flags = 0
        self.func = func
        self.func_addr = func_addr
        self.lr_offset = lr_offset
        self.frame_size = frame_size

    @property
    def refcount(self):
        return self.flags & ~FTRACE_FL_MASK

    def __repr__(self):
        en = " E" if self.flags & FTRACE_FL_ENABLED else ""
        return f"<dyn_ftrace {self.func or '?'} ip=0x{self.ip:x} ({self.refcount}){en}>"


class ftrace_page:
    __slots__ = ("records", "ips")

    def __init__(self, records):
        self.records = sorted(records, key=lambda r: r.ip)
        self.ips = [r.ip for r in self.records]


class FtracePages:
    """ftrace_pages_start: records grouped in pages, each page sorted by ip so lookups can bsearch."""

    def __init__(self, records):
        recs = sorted(records, key=lambda r: r.ip)
        self.pages = [ftrace_page(recs[i:i + ENTRIES_PER_PAGE]) for i in range(0, len(recs), ENTRIES_PER_PAGE)]

    def __iter__(self):
        """do_for_each_ftrace_rec / while_for_each_ftrace_rec."""
        for pg in self.pages:
            yield from pg.records

    def __len__(self):
        return sum(len(pg.records) for pg in self.pages)

    def lookup(self, ip):
        for pg in self.pages:
            if pg.ips and pg.ips[0] <= ip <= pg.ips[-1]:
                i = bisect.bisect_left(pg.ips, ip)
                if i < len(pg.ips) and pg.ips[i] == ip:
                    return pg.records[i]
        return None

    def ftrace_location(self, ip):
        """v3.6: 1 if a record with exactly this ip exists."""
        return 1 if self.lookup(ip) is not None else 0


def ftrace_check_record(rec, enable, update):
    """What the site must become: IGNORE, MAKE_CALL or MAKE_NOP; with update, commit ENABLED accordingly."""
    flag = FTRACE_FL_ENABLED if enable and rec.refcount else 0
    if rec.flags & FTRACE_FL_ENABLED == flag:
        return FTRACE_UPDATE_IGNORE
    if flag:
        if update:
            rec.flags |= FTRACE_FL_ENABLED
        return FTRACE_UPDATE_MAKE_CALL
    if update:
        rec.flags &= ~FTRACE_FL_ENABLED
    return FTRACE_UPDATE_MAKE_NOP


def ftrace_update_record(rec, enable):
    return ftrace_check_record(rec, enable, True)


def ftrace_test_record(rec, enable):
    return ftrace_check_record(rec, enable, False)
