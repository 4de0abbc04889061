"""ARM semihosting (bkpt 0xab) as newlib's rdimon runtime uses it, sandboxed and deterministic.

Only the console (":tt") and the ":semihosting-features" file can be opened; host files never are.
Time comes from callables the machine passes (simulated time), never from the host clock.
"""

import struct

from .faults import MemoryFault, SemihostingError

SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_ISTTY = 0x09
SYS_SEEK = 0x0A
SYS_FLEN = 0x0C
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_ERRNO = 0x13
SYS_GET_CMDLINE = 0x15
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20

ADP_STOPPED = {
    0x20000: "ADP_Stopped_BranchThroughZero",
    0x20001: "ADP_Stopped_UndefinedInstr",
    0x20002: "ADP_Stopped_SoftwareInterrupt",
    0x20003: "ADP_Stopped_PrefetchAbort",
    0x20004: "ADP_Stopped_DataAbort",
    0x20005: "ADP_Stopped_AddressException",
    0x20006: "ADP_Stopped_IRQ",
    0x20007: "ADP_Stopped_FIQ",
    0x20020: "ADP_Stopped_BreakPoint",
    0x20021: "ADP_Stopped_WatchPoint",
    0x20022: "ADP_Stopped_StepComplete",
    0x20023: "ADP_Stopped_RunTimeErrorUnknown",
    0x20024: "ADP_Stopped_InternalError",
    0x20025: "ADP_Stopped_UserInterruption",
    0x20026: "ADP_Stopped_ApplicationExit",
    0x20027: "ADP_Stopped_StackOverflow",
    0x20028: "ADP_Stopped_DivisionByZero",
    0x20029: "ADP_Stopped_OSSpecific",
}
ADP_STOPPED_APPLICATION_EXIT = 0x20026

# Feature bytes after the "SHFB" magic: bit 0 SH_EXT_EXIT_EXTENDED, bit 1 SH_EXT_STDOUT_STDERR.
FEATURES = b"SHFB" + bytes([0x03])

# newlib's errno values
ENOENT, EBADF, EACCES, EINVAL, ESPIPE = 2, 9, 13, 22, 29

MASK32 = 0xFFFFFFFF
CHUNK = 256     # string reads (SYS_WRITE0) go in aligned chunks of this size


class _Console:
    """A ":tt" handle: stdin, stdout or stderr of the host."""

    def __init__(self, stream, writable):
        self.stream = stream
        self.writable = writable


class _Features:
    """The read-only ":semihosting-features" file."""

    def __init__(self):
        self.pos = 0


class Semihosting:
    """Services semihosting calls for one machine.

    read(addr, n) -> bytes and write(addr, data) access guest memory (raising MemoryFault out of
    range); argv[0] is the program name; stdin/stdout/stderr are binary file objects;
    heapinfo = (heap_base, heap_limit, stack_base, stack_limit).
    clock() -> simulated seconds since start (SYS_CLOCK reports centiseconds);
    time() -> seconds since the Unix epoch (SYS_TIME).
    After SYS_EXIT / SYS_EXIT_EXTENDED: exit_code (int), exit_reason (the ADP_Stopped_* name) and
    exit_message (None for a normal application exit, else what went wrong).
    """

    def __init__(self, read, write, argv, stdin, stdout, stderr, heapinfo,
                 clock=lambda: 0, time=lambda: 0):
        self._read = read
        self._write = write
        self.argv = list(argv)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.heapinfo = tuple(heapinfo)
        self.clock = clock
        self.time = time
        self.errno = 0
        self.handles = {}
        self._next_handle = 1
        self.exit_code = None
        self.exit_reason = None
        self.exit_message = None

    def call(self, regs):
        """Perform the operation in r0 with the parameter (block address) in r1; result -> r0.

        Returns None to continue, or the exit code when the guest exits.
        """
        op = regs.get_reg(0)
        entry = OPS.get(op)
        if entry is None:
            raise SemihostingError(f"unknown semihosting operation 0x{op:02x}")
        name, method = entry
        try:
            result = method(self, regs.get_reg(1))
        except MemoryFault as exc:
            raise SemihostingError(f"{name}: {exc.reason}", addr=exc.addr) from exc
        except SemihostingError as exc:
            raise SemihostingError(f"{name}: {exc.reason}", addr=exc.addr) from None
        if result is None:
            return self.exit_code
        regs.set_reg(0, result & MASK32)
        return None

    # -- helpers -------------------------------------------------------------------------------

    def _words(self, addr, n):
        """The n-word parameter block at addr, read in one access."""
        try:
            return struct.unpack(f"<{n}I", self._read(addr, 4 * n))
        except MemoryFault:
            raise SemihostingError(f"parameter block at 0x{addr:08x} outside guest memory",
                                   addr=addr) from None

    def _handle(self, handle):
        try:
            return self.handles[handle]
        except KeyError:
            raise SemihostingError(f"bad handle {handle}") from None

    def _fail(self, errno):
        self.errno = errno
        return -1

    def _output(self, stream, data):
        stream.write(data)
        stream.flush()

    def _cstring(self, addr):
        """The NUL-terminated string at addr (without the NUL)."""
        parts = []
        while True:
            n = CHUNK - addr % CHUNK
            try:
                chunk = self._read(addr, n)
            except MemoryFault:     # the string may end right before the end of memory
                chunk = b""
                while not chunk.endswith(b"\0"):
                    chunk += self._read(addr + len(chunk), 1)
            end = chunk.find(b"\0")
            if end >= 0:
                parts.append(chunk[:end])
                return b"".join(parts)
            parts.append(chunk)
            addr += n

    # -- operations ----------------------------------------------------------------------------

    def sys_open(self, r1):
        name_ptr, mode, length = self._words(r1, 3)
        name = self._read(name_ptr, length)
        if mode > 11:
            return self._fail(EINVAL)
        if name == b":tt":
            if mode < 4:
                f = _Console(self.stdin, False)
            else:
                f = _Console(self.stdout if mode < 8 else self.stderr, True)
        elif name == b":semihosting-features":
            if mode >= 4:
                return self._fail(EACCES)
            f = _Features()
        else:
            return self._fail(ENOENT)
        handle = self._next_handle
        self._next_handle += 1
        self.handles[handle] = f
        return handle

    def sys_close(self, r1):
        (handle,) = self._words(r1, 1)
        self._handle(handle)
        del self.handles[handle]
        return 0

    def sys_writec(self, r1):
        self._output(self.stdout, self._read(r1, 1))
        return 0

    def sys_write0(self, r1):
        self._output(self.stdout, self._cstring(r1))
        return 0

    def sys_write(self, r1):
        handle, ptr, length = self._words(r1, 3)
        f = self._handle(handle)
        if not (isinstance(f, _Console) and f.writable):
            self.errno = EBADF
            return length
        if length:
            self._output(f.stream, self._read(ptr, length))
        return 0

    def sys_read(self, r1):
        handle, ptr, length = self._words(r1, 3)
        f = self._handle(handle)
        if isinstance(f, _Features):
            data = FEATURES[f.pos:f.pos + length]
            f.pos += len(data)
        elif f.writable:
            self.errno = EBADF
            return length
        elif length:
            read = getattr(f.stream, "read1", f.stream.read)    # return what is there, as a tty does
            data = read(length)
        else:
            data = b""
        self._write(ptr, data)
        return length - len(data)

    def sys_istty(self, r1):
        (handle,) = self._words(r1, 1)
        return 1 if isinstance(self._handle(handle), _Console) else 0

    def sys_seek(self, r1):
        handle, pos = self._words(r1, 2)
        f = self._handle(handle)
        if isinstance(f, _Console):
            return self._fail(ESPIPE)
        if pos > len(FEATURES):
            return self._fail(EINVAL)
        f.pos = pos
        return 0

    def sys_flen(self, r1):
        (handle,) = self._words(r1, 1)
        # A console has no length; 0 (not -1) lets newlib's fstat succeed, so stdout is line-buffered.
        return 0 if isinstance(self._handle(handle), _Console) else len(FEATURES)

    def sys_clock(self, r1):
        return int(self.clock() * 100)

    def sys_time(self, r1):
        return int(self.time())

    def sys_errno(self, r1):
        return self.errno

    def sys_get_cmdline(self, r1):
        buf, size = self._words(r1, 2)
        if size == 0:
            return self._fail(EINVAL)
        cmdline = " ".join(self.argv).encode("utf-8", "surrogateescape")[:size - 1]
        self._write(buf, cmdline + b"\0")
        self._write(r1 + 4, struct.pack("<I", len(cmdline)))
        return 0

    def sys_heapinfo(self, r1):
        (block,) = self._words(r1, 1)
        self._write(block, struct.pack("<4I", *(v & MASK32 for v in self.heapinfo)))
        return 0

    def sys_exit(self, r1):
        # On A32/T32 r1 holds the reason itself; no exit status is passed.
        return self._exit(r1, 0)

    def sys_exit_extended(self, r1):
        reason, subcode = self._words(r1, 2)
        return self._exit(reason, subcode)

    def _exit(self, reason, subcode):
        self.exit_reason = ADP_STOPPED.get(reason, f"unknown reason 0x{reason:x}")
        if reason == ADP_STOPPED_APPLICATION_EXIT:
            self.exit_code = subcode - (1 << 32) if subcode & 0x80000000 else subcode
        else:
            self.exit_code = 1
            self.exit_message = f"guest stopped abnormally: {self.exit_reason}, subcode {subcode}"
        return None


OPS = {
    SYS_OPEN: ("SYS_OPEN", Semihosting.sys_open),
    SYS_CLOSE: ("SYS_CLOSE", Semihosting.sys_close),
    SYS_WRITEC: ("SYS_WRITEC", Semihosting.sys_writec),
    SYS_WRITE0: ("SYS_WRITE0", Semihosting.sys_write0),
    SYS_WRITE: ("SYS_WRITE", Semihosting.sys_write),
    SYS_READ: ("SYS_READ", Semihosting.sys_read),
    SYS_ISTTY: ("SYS_ISTTY", Semihosting.sys_istty),
    SYS_SEEK: ("SYS_SEEK", Semihosting.sys_seek),
    SYS_FLEN: ("SYS_FLEN", Semihosting.sys_flen),
    SYS_CLOCK: ("SYS_CLOCK", Semihosting.sys_clock),
    SYS_TIME: ("SYS_TIME", Semihosting.sys_time),
    SYS_ERRNO: ("SYS_ERRNO", Semihosting.sys_errno),
    SYS_GET_CMDLINE: ("SYS_GET_CMDLINE", Semihosting.sys_get_cmdline),
    SYS_HEAPINFO: ("SYS_HEAPINFO", Semihosting.sys_heapinfo),
    SYS_EXIT: ("SYS_EXIT", Semihosting.sys_exit),
    SYS_EXIT_EXTENDED: ("SYS_EXIT_EXTENDED", Semihosting.sys_exit_extended),
}
