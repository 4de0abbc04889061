"""cpu.semihosting against a fake memory and register file, plus end-to-end runs on Unicorn."""

import builtins
import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import cpu.semihosting as sh
from cpu.faults import InstructionLimit, MemoryFault, SemihostingError
from cpu.semihosting import Semihosting

DATA = Path(__file__).parent / "data"
MEM_SIZE = 0x10000
PARAM = 0x100           # parameter blocks go here
BUF = 0x1000            # data buffers go here
HEAPINFO = (0x20000, 0x3F00000, 0x4000000, 0x3F00000)


class FakeMemory:
    def __init__(self, size=MEM_SIZE):
        self.mem = bytearray(size)
        self.reads = []

    def read(self, addr, n):
        self.reads.append((addr, n))
        if addr < 0 or n < 0 or addr + n > len(self.mem):
            raise MemoryFault(f"read of {n} bytes outside memory", addr=addr)
        return bytes(self.mem[addr:addr + n])

    def write(self, addr, data):
        if addr < 0 or addr + len(data) > len(self.mem):
            raise MemoryFault(f"write of {len(data)} bytes outside memory", addr=addr)
        self.mem[addr:addr + len(data)] = data

    def poke_words(self, addr, *words):
        self.write(addr, struct.pack(f"<{len(words)}I", *(w & 0xFFFFFFFF for w in words)))

    def word(self, addr):
        return struct.unpack_from("<I", self.mem, addr)[0]


class FakeRegs:
    def __init__(self):
        self.r = [0] * 16

    def get_reg(self, n):
        return self.r[n]

    def set_reg(self, n, value):
        assert 0 <= value <= 0xFFFFFFFF
        self.r[n] = value


class FlushCounter(io.BytesIO):
    def __init__(self):
        super().__init__()
        self.flushes = 0

    def flush(self):
        self.flushes += 1


class Env:
    """A Semihosting over fake memory, with helpers to issue calls."""

    def __init__(self, argv=("prog",), stdin=b"", **kwargs):
        self.mem = FakeMemory()
        self.regs = FakeRegs()
        self.stdin = io.BytesIO(stdin)
        self.stdout = FlushCounter()
        self.stderr = FlushCounter()
        self.sh = Semihosting(self.mem.read, self.mem.write, list(argv), self.stdin, self.stdout,
                              self.stderr, HEAPINFO, **kwargs)

    def call(self, op, *words, r1=None):
        """Issue op with words as the parameter block at PARAM (or r1 as is); -> (signed r0, return)."""
        if r1 is None:
            self.mem.poke_words(PARAM, *words)
            r1 = PARAM
        self.regs.r[0], self.regs.r[1] = op, r1
        ret = self.sh.call(self.regs)
        r0 = self.regs.r[0]
        return (r0 - (1 << 32) if r0 & 0x80000000 else r0), ret

    def r0(self, op, *words, r1=None):
        r0, ret = self.call(op, *words, r1=r1)
        assert ret is None
        return r0

    def errno(self):
        return self.r0(sh.SYS_ERRNO, r1=0)

    def open(self, name, mode):
        data = name.encode() + b"\0"
        self.mem.write(BUF + 0x800, data)
        return self.r0(sh.SYS_OPEN, BUF + 0x800, mode, len(data) - 1)

    def write(self, handle, data):
        self.mem.write(BUF, data)
        return self.r0(sh.SYS_WRITE, handle, BUF, len(data))

    def read(self, handle, n):
        """-> (bytes not read, the n bytes at BUF afterwards)"""
        self.mem.write(BUF, b"\xee" * n)
        left = self.r0(sh.SYS_READ, handle, BUF, n)
        return left, bytes(self.mem.mem[BUF:BUF + n])


@pytest.fixture
def env():
    return Env()


# -- the ops table -------------------------------------------------------------------------------

def test_ops_table_uses_spec_names_and_numbers():
    expected = {0x01: "SYS_OPEN", 0x02: "SYS_CLOSE", 0x03: "SYS_WRITEC", 0x04: "SYS_WRITE0",
                0x05: "SYS_WRITE", 0x06: "SYS_READ", 0x09: "SYS_ISTTY", 0x0A: "SYS_SEEK",
                0x0C: "SYS_FLEN", 0x10: "SYS_CLOCK", 0x11: "SYS_TIME", 0x13: "SYS_ERRNO",
                0x15: "SYS_GET_CMDLINE", 0x16: "SYS_HEAPINFO", 0x18: "SYS_EXIT",
                0x20: "SYS_EXIT_EXTENDED"}
    assert {op: name for op, (name, _) in sh.OPS.items()} == expected
    for op, name in expected.items():
        assert getattr(sh, name) == op


@pytest.mark.parametrize("op", [0x00, 0x07, 0x08, 0x0D, 0x0E, 0x0F, 0x12, 0x30, 0x100, 0xFFFFFFFF])
def test_unknown_op_raises(env, op):
    with pytest.raises(SemihostingError, match=f"unknown semihosting operation 0x{op:02x}"):
        env.call(op, 0)


# -- SYS_OPEN / SYS_CLOSE ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode, stream", [(m, "stdin") for m in range(4)] + [(m, "stdout") for m in range(4, 8)]
                         + [(m, "stderr") for m in range(8, 12)])
def test_open_tt_modes(env, mode, stream):
    h = env.open(":tt", mode)
    assert h > 0
    assert env.r0(sh.SYS_ISTTY, h) == 1
    if stream == "stdin":
        env.stdin.write(b"in")
        env.stdin.seek(0)
        assert env.read(h, 2) == (0, b"in")
        assert env.write(h, b"xyz") == 3                   # read-only: nothing written
        assert env.errno() == sh.EBADF
    else:
        assert env.write(h, b"hello") == 0
        assert getattr(env, stream).getvalue() == b"hello"
        other = env.stderr if stream == "stdout" else env.stdout
        assert other.getvalue() == b""
        assert env.read(h, 4)[0] == 4                      # write-only: nothing read
        assert env.errno() == sh.EBADF


def test_open_returns_distinct_handles_and_close(env):
    handles = [env.open(":tt", m) for m in (0, 4, 8)]
    assert len(set(handles)) == 3 and all(h > 0 for h in handles)
    for h in handles:
        assert env.r0(sh.SYS_CLOSE, h) == 0
    with pytest.raises(SemihostingError, match=f"SYS_CLOSE: bad handle {handles[0]}"):
        env.call(sh.SYS_CLOSE, handles[0])


def test_open_bad_mode(env):
    assert env.open(":tt", 12) == -1
    assert env.errno() == sh.EINVAL


@pytest.mark.parametrize("name", ["/etc/passwd", "hello.txt", ":tt2", "", ":semihosting-features2"])
def test_open_host_files_refused(env, monkeypatch, name):
    def no_host_files(*args, **kwargs):
        raise AssertionError("semihosting touched the host file system")
    monkeypatch.setattr(builtins, "open", no_host_files)
    monkeypatch.setattr(os, "open", no_host_files)
    assert env.open(name, 0) == -1
    assert env.errno() == sh.ENOENT
    assert env.open(name, 4) == -1


def test_open_name_outside_memory(env):
    with pytest.raises(SemihostingError, match="SYS_OPEN"):
        env.call(sh.SYS_OPEN, MEM_SIZE - 2, 0, 3)


# -- the features file ------------------------------------------------------------------------------

def test_features_file(env):
    h = env.open(":semihosting-features", 0)
    assert h > 0
    assert env.r0(sh.SYS_FLEN, h) == 5
    assert env.r0(sh.SYS_ISTTY, h) == 0
    assert env.read(h, 4) == (0, b"SHFB")
    assert env.r0(sh.SYS_SEEK, h, 4) == 0
    assert env.read(h, 1) == (0, bytes([0x03]))            # EXIT_EXTENDED | STDOUT_STDERR
    assert env.read(h, 1) == (1, b"\xee")                  # at EOF: nothing read
    assert env.r0(sh.SYS_SEEK, h, 0) == 0
    assert env.read(h, 8) == (3, b"SHFB\x03\xee\xee\xee")
    assert env.r0(sh.SYS_SEEK, h, 5) == 0
    assert env.r0(sh.SYS_SEEK, h, 6) == -1
    assert env.errno() == sh.EINVAL
    assert env.write(h, b"x") == 1
    assert env.errno() == sh.EBADF
    assert env.r0(sh.SYS_CLOSE, h) == 0


def test_features_file_is_read_only(env):
    for mode in (4, 8, 11):
        assert env.open(":semihosting-features", mode) == -1
        assert env.errno() == sh.EACCES


def test_features_content():
    assert sh.FEATURES == b"SHFB\x03"


# -- writes -----------------------------------------------------------------------------------------

def test_write_flushes_each_time(env):
    h = env.open(":tt", 4)
    e = env.open(":tt", 8)
    assert env.write(h, b"a") == 0 and env.stdout.flushes == 1
    assert env.write(h, b"bc") == 0 and env.stdout.flushes == 2
    assert env.write(e, b"err") == 0 and env.stderr.flushes == 1
    assert env.write(h, b"") == 0
    assert (env.stdout.getvalue(), env.stderr.getvalue()) == (b"abc", b"err")


def test_write_reads_param_block_in_one_access(env):
    h = env.open(":tt", 4)
    env.mem.write(BUF, b"data")
    env.mem.reads.clear()
    env.r0(sh.SYS_WRITE, h, BUF, 4)
    assert env.mem.reads == [(PARAM, 12), (BUF, 4)]


def test_write_buffer_outside_memory(env):
    h = env.open(":tt", 4)
    with pytest.raises(SemihostingError, match="SYS_WRITE") as info:
        env.call(sh.SYS_WRITE, h, MEM_SIZE - 2, 4)
    assert info.value.addr == MEM_SIZE - 2


@pytest.mark.parametrize("r1", [MEM_SIZE - 8, MEM_SIZE, 0xFFFFFFF0])
def test_param_block_outside_memory(env, r1):
    with pytest.raises(SemihostingError, match=rf"SYS_WRITE: parameter block at 0x{r1:08x} outside") as info:
        env.call(sh.SYS_WRITE, r1=r1)
    assert info.value.addr == r1


def test_writec(env):
    env.mem.write(BUF, b"Zq")
    env.call(sh.SYS_WRITEC, r1=BUF)
    assert env.stdout.getvalue() == b"Z" and env.stdout.flushes == 1


def test_write0_long_string_across_chunks(env):
    text = bytes(range(1, 256)) * 3
    env.mem.write(BUF + 3, text + b"\0tail")
    env.call(sh.SYS_WRITE0, r1=BUF + 3)
    assert env.stdout.getvalue() == text


def test_write0_at_end_of_memory(env):
    env.mem.write(MEM_SIZE - 4, b"end\0")
    env.call(sh.SYS_WRITE0, r1=MEM_SIZE - 4)
    assert env.stdout.getvalue() == b"end"


def test_write0_unterminated(env):
    env.mem.write(MEM_SIZE - 300, b"x" * 300)
    with pytest.raises(SemihostingError, match="SYS_WRITE0"):
        env.call(sh.SYS_WRITE0, r1=MEM_SIZE - 300)


# -- reads ------------------------------------------------------------------------------------------

def test_read_stdin_partial_and_eof():
    env = Env(stdin=b"abcdef")
    h = env.open(":tt", 0)
    assert env.read(h, 4) == (0, b"abcd")
    assert env.read(h, 4) == (2, b"ef\xee\xee")            # returns bytes NOT read
    assert env.read(h, 4) == (4, b"\xee" * 4)              # EOF
    assert env.read(h, 0) == (0, b"")


def test_read_returns_what_is_available():
    class Tty:      # read1 hands back one line; read() would block for more
        def read1(self, n):
            return b"line\n"[:n]

        def read(self, n):
            raise AssertionError("blocking read")
    env = Env()
    env.sh.stdin = Tty()
    h = env.open(":tt", 0)
    assert env.read(h, 100)[0] == 95


def test_read_stream_without_read1():
    class Plain:
        def read(self, n):
            return b"xy"
    env = Env()
    env.sh.stdin = Plain()
    h = env.open(":tt", 0)
    assert env.read(h, 5) == (3, b"xy\xee\xee\xee")


# -- handle queries ---------------------------------------------------------------------------------

def test_tty_seek_flen(env):
    h = env.open(":tt", 4)
    assert env.r0(sh.SYS_FLEN, h) == 0
    assert env.r0(sh.SYS_SEEK, h, 0) == -1
    assert env.errno() == sh.ESPIPE


@pytest.mark.parametrize("op, words", [(sh.SYS_CLOSE, (99,)), (sh.SYS_WRITE, (99, BUF, 1)),
                                       (sh.SYS_READ, (99, BUF, 1)), (sh.SYS_ISTTY, (99,)),
                                       (sh.SYS_SEEK, (99, 0)), (sh.SYS_FLEN, (99,))])
def test_bad_handle(env, op, words):
    with pytest.raises(SemihostingError, match=rf"{sh.OPS[op][0]}: bad handle 99"):
        env.call(op, *words)


# -- time, errno ------------------------------------------------------------------------------------

def test_clock_and_time_default_to_zero(env):
    assert env.r0(sh.SYS_CLOCK, r1=0) == 0
    assert env.r0(sh.SYS_TIME, r1=0) == 0
    assert env.errno() == 0


def test_clock_and_time_from_callables():
    now = [1.234]
    env = Env(clock=lambda: now[0], time=lambda: 1_700_000_000)
    assert env.r0(sh.SYS_CLOCK, r1=0) == 123               # centiseconds
    now[0] = 60.0
    assert env.r0(sh.SYS_CLOCK, r1=0) == 6000
    assert env.r0(sh.SYS_TIME, r1=0) == 1_700_000_000


# -- command line, heap info ------------------------------------------------------------------------

def test_get_cmdline():
    env = Env(argv=["prog", "a", "b c"])
    assert env.r0(sh.SYS_GET_CMDLINE, BUF, 255) == 0
    assert env.mem.mem[BUF:BUF + 11] == b"prog a b c\0"
    assert env.mem.word(PARAM + 4) == 10
    assert env.mem.word(PARAM) == BUF


@pytest.mark.parametrize("size, text", [(5, b"prog"), (2, b"p"), (1, b""), (11, b"prog a b c"),
                                        (12, b"prog a b c")])
def test_get_cmdline_truncation(size, text):
    env = Env(argv=["prog", "a", "b c"])
    env.mem.write(BUF, b"\xee" * 16)
    assert env.r0(sh.SYS_GET_CMDLINE, BUF, size) == 0
    assert env.mem.mem[BUF:BUF + len(text) + 2] == text + b"\0\xee"
    assert env.mem.word(PARAM + 4) == len(text)


def test_get_cmdline_zero_size(env):
    env.mem.write(BUF, b"\xee")
    assert env.r0(sh.SYS_GET_CMDLINE, BUF, 0) == -1
    assert env.mem.mem[BUF] == 0xEE
    assert env.errno() == sh.EINVAL


def test_get_cmdline_buffer_outside_memory(env):
    with pytest.raises(SemihostingError, match="SYS_GET_CMDLINE"):
        env.call(sh.SYS_GET_CMDLINE, MEM_SIZE - 3, 255)


def test_heapinfo(env):
    env.mem.poke_words(PARAM, BUF)                         # r1 -> word -> the 4-word block
    assert env.r0(sh.SYS_HEAPINFO, r1=PARAM) == 0
    assert struct.unpack_from("<4I", env.mem.mem, BUF) == HEAPINFO


def test_heapinfo_block_outside_memory(env):
    with pytest.raises(SemihostingError, match="SYS_HEAPINFO"):
        env.call(sh.SYS_HEAPINFO, MEM_SIZE - 8)


# -- exit -------------------------------------------------------------------------------------------

def test_exit_application_exit(env):
    assert env.call(sh.SYS_EXIT, r1=0x20026) == (sh.SYS_EXIT, 0)   # r0 untouched
    assert env.sh.exit_code == 0
    assert env.sh.exit_reason == "ADP_Stopped_ApplicationExit"
    assert env.sh.exit_message is None


def test_exit_other_reason(env):
    _, code = env.call(sh.SYS_EXIT, r1=0x20023)
    assert code == 1
    assert "ADP_Stopped_RunTimeErrorUnknown" in env.sh.exit_message


@pytest.mark.parametrize("subcode, code", [(0, 0), (3, 3), (255, 255), (256, 256), (0xFFFFFFFF, -1)])
def test_exit_extended_codes(env, subcode, code):
    assert env.call(sh.SYS_EXIT_EXTENDED, 0x20026, subcode)[1] == code
    assert env.sh.exit_code == code and env.sh.exit_message is None


@pytest.mark.parametrize("reason, name", [(0x20023, "ADP_Stopped_RunTimeErrorUnknown"),
                                          (0x20000, "ADP_Stopped_BranchThroughZero"),
                                          (0x12345, "unknown reason 0x12345")])
def test_exit_extended_abnormal(env, reason, name):
    assert env.call(sh.SYS_EXIT_EXTENDED, reason, 6)[1] == 1
    assert env.sh.exit_reason == name
    assert env.sh.exit_message == f"guest stopped abnormally: {name}, subcode 6"


def test_exit_extended_block_outside_memory(env):
    with pytest.raises(SemihostingError, match="SYS_EXIT_EXTENDED"):
        env.call(sh.SYS_EXIT_EXTENDED, r1=MEM_SIZE - 4)


def test_results_are_written_as_32_bit(env):
    env.open("missing", 0)
    assert env.regs.r[0] == 0xFFFFFFFF


# -- end to end on Unicorn ----------------------------------------------------------------------------

HELLO_OUT = b"x=129.746338\nargc=2 argv[1]=abc\nstdin: line one\n"


def test_e2e_printf_float_and_exit_code():
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    result = unicorn_run.run_unicorn(DATA / "hello_float.elf", argv=["hello_float", "abc"],
                                     stdin=b"line one\nline two\n")
    assert result.stdout == HELLO_OUT
    assert result.stderr == b"done\n"
    assert result.exit_code == 3
    assert result.instructions is None


def test_e2e_defaults_and_instruction_count():
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    result = unicorn_run.run_unicorn(DATA / "hello_float.elf", count_instructions=True)
    assert result.stdout == b"x=86.497559\nargc=1 argv[1]=-\n"
    assert result.exit_code == 3
    assert 5000 < result.instructions < 50000
    again = unicorn_run.run_unicorn(DATA / "hello_float.elf", max_instructions=result.instructions)
    assert again.instructions == result.instructions
    with pytest.raises(InstructionLimit):
        unicorn_run.run_unicorn(DATA / "hello_float.elf", max_instructions=result.instructions - 1)


def test_e2e_tiny_bare_metal():
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    result = unicorn_run.run_unicorn(DATA / "tiny.elf", mem_size=1 << 20)
    assert (result.stdout, result.stderr, result.exit_code) == (b"", b"", 8)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
def test_e2e_rebuilt_from_source(tmp_path):
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    elf = tmp_path / "hello_float.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mthumb", "-march=armv7-m", "--specs=rdimon.specs", "-O2",
                    str(DATA / "hello_float.c"), "-o", str(elf)], check=True)
    result = unicorn_run.run_unicorn(elf, argv=["hello_float", "abc"], stdin=b"line one\n")
    assert (result.stdout, result.stderr, result.exit_code) == (HELLO_OUT, b"done\n", 3)


def thumb_elf(tmp_path, *halfwords):
    """A one-segment ELF whose code is the given Thumb halfwords, loaded (and entered) at 0x1054."""
    code = struct.pack(f"<{len(halfwords)}H", *halfwords)
    ehdr = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01", 2, 40, 1, 0x1055, 52, 0, 0x5000000,
                       52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<8I", 1, 84, 0x1054, 0x1054, len(code), len(code), 5, 2)
    path = tmp_path / "code.elf"
    path.write_bytes(ehdr + phdr + code)
    return path


@pytest.mark.parametrize("halfwords, fault, match", [
    ((0xBE01,), "UnhandledException", "bkpt #1"),
    ((0xDF00,), "UnhandledException", r"exception 2 \(svc\)"),
    ((0xDE00,), "UndefinedInstruction", "unicorn"),              # udf
    ((0x2001, 0x0700, 0x6800), "MemoryFault", "unicorn"),        # ldr r0, [0x10000000]
])
def test_e2e_faults(tmp_path, halfwords, fault, match):
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    import cpu.faults
    with pytest.raises(getattr(cpu.faults, fault), match=match) as info:
        unicorn_run.run_unicorn(thumb_elf(tmp_path, *halfwords), mem_size=1 << 20)
    if fault == "MemoryFault":
        assert info.value.addr == 0x10000000


def test_e2e_endless_loop_hits_limit(tmp_path):
    unicorn_run = pytest.importorskip("reference.unicorn_run")
    with pytest.raises(InstructionLimit):
        unicorn_run.run_unicorn(thumb_elf(tmp_path, 0xE7FE), mem_size=1 << 20, max_instructions=1000)
