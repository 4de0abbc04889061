/* A two-pass assembler, a static checker and a stack-machine bytecode interpreter. The interpreter's dense
   dispatch switch becomes TBH at -O2/-Os, the checker's switch TBB (at -O0 gcc uses ldr pc word tables). */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum op {
    HALT, NOP, PUSH, POP, DUP, SWAP, OVER, ROT, ADD, SUB, MUL, DIVS, MODS, DIVU, NEG, AND, OR, XOR, NOT, SHL,
    SHR, SAR, EQ, NE, LT, LE, GT, GE, LTU, MIN, MAX, ABS, INC, DEC, JMP, JZ, JNZ, CALL, RET, LOAD, STORE,
    LOADI, STOREI, PRINT, EMIT, NOPS
};

static const char *const names[NOPS] = {
    "halt", "nop", "push", "pop", "dup", "swap", "over", "rot", "add", "sub", "mul", "divs", "mods", "divu",
    "neg", "and", "or", "xor", "not", "shl", "shr", "sar", "eq", "ne", "lt", "le", "gt", "ge", "ltu", "min",
    "max", "abs", "inc", "dec", "jmp", "jz", "jnz", "call", "ret", "load", "store", "loadi", "storei", "print",
    "emit",
};

enum operand { NONE, NUMBER, TARGET }; /* a TARGET is a label or a number */

static enum operand operand_kind(int op)
{
    switch (op) {
    case PUSH:
    case LOADI:
    case STOREI:
        return NUMBER;
    case JMP:
    case JZ:
    case JNZ:
    case CALL:
        return TARGET;
    default:
        return NONE;
    }
}

#define MAXCODE 512
#define MAXLABELS 64
#define MEMWORDS 4096

struct label {
    char name[16];
    int addr;
};

static int32_t code[MAXCODE];
static struct label labels[MAXLABELS];
static int nlabels;

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int find_label(const char *name)
{
    for (int i = 0; i < nlabels; i++)
        if (strcmp(labels[i].name, name) == 0)
            return labels[i].addr;
    return -1;
}

/* Returns the code size, or -1 after printing an error. */
static int assemble(const char *src)
{
    int size = 0;
    nlabels = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = src;
        int line = 0;
        size = 0;
        while (*p) {
            char tok[3][16];
            int ntok = 0;
            line++;
            while (*p && *p != '\n') {
                while (is_space(*p))
                    p++;
                if (*p == ';')
                    while (*p && *p != '\n')
                        p++;
                if (!*p || *p == '\n')
                    break;
                int n = 0;
                while (*p && !is_space(*p) && *p != '\n' && *p != ';')
                    if (n < 15)
                        tok[ntok < 3 ? ntok : 2][n++] = *p++;
                    else
                        p++;
                tok[ntok < 3 ? ntok : 2][n] = '\0';
                ntok++;
            }
            if (*p == '\n')
                p++;
            int t = 0;
            if (ntok > 0 && tok[0][strlen(tok[0]) - 1] == ':') {
                tok[0][strlen(tok[0]) - 1] = '\0';
                if (pass == 0) {
                    if (nlabels == MAXLABELS)
                        return printf("line %d: too many labels\n", line), -1;
                    strcpy(labels[nlabels].name, tok[0]);
                    labels[nlabels++].addr = size;
                }
                t = 1;
            }
            if (t == ntok)
                continue;
            int op = 0;
            while (op < NOPS && strcmp(names[op], tok[t]) != 0)
                op++;
            if (op == NOPS)
                return printf("line %d: unknown mnemonic '%s'\n", line, tok[t]), -1;
            enum operand kind = operand_kind(op);
            if ((kind == NONE) != (ntok - t == 1) || ntok - t > 2)
                return printf("line %d: bad operands for %s\n", line, names[op]), -1;
            if (size + 2 > MAXCODE)
                return printf("line %d: program too large\n", line), -1;
            code[size++] = op;
            if (kind == NONE)
                continue;
            int32_t v = 0;
            char c = tok[t + 1][0];
            if (kind == TARGET && c != '-' && (c < '0' || c > '9')) {
                v = pass == 0 ? 0 : find_label(tok[t + 1]);
                if (v < 0)
                    return printf("line %d: undefined label '%s'\n", line, tok[t + 1]), -1;
            } else {
                char *end;
                v = (int32_t)strtol(tok[t + 1], &end, 0);
                if (*end)
                    return printf("line %d: bad number '%s'\n", line, tok[t + 1]), -1;
            }
            code[size++] = v;
        }
    }
    return size;
}

struct stats {
    uint32_t stack, alu, cmp, branch, mem, io;
};

/* noinline keeps this switch small enough for TBB at -O2 too. */
__attribute__((noinline)) static const char *check_code(int size, struct stats *st)
{
    for (int pc = 0; pc < size; pc++) {
        switch (code[pc]) {
        case HALT:
        case NOP:
        case RET:
            break;
        case PUSH:
            pc++; /* fall through */
        case POP:
        case DUP:
        case SWAP:
        case OVER:
        case ROT:
            st->stack++;
            break;
        case ADD: case SUB: case MUL: case DIVS: case MODS: case DIVU: case NEG: case AND: case OR: case XOR:
        case NOT: case SHL: case SHR: case SAR: case MIN: case MAX: case ABS: case INC: case DEC:
            st->alu++;
            break;
        case EQ: case NE: case LT: case LE: case GT: case GE: case LTU:
            st->cmp++;
            break;
        case JMP:
        case JZ:
        case JNZ:
        case CALL:
            st->branch++;
            if (++pc >= size || code[pc] < 0 || code[pc] >= size)
                return "branch target out of range";
            break;
        case LOADI:
        case STOREI:
            if (++pc >= size || (uint32_t)code[pc] >= MEMWORDS)
                return "memory slot out of range";
            /* fall through */
        case LOAD:
        case STORE:
            st->mem++;
            break;
        case PRINT:
        case EMIT:
            st->io++;
            break;
        default:
            return "illegal opcode";
        }
    }
    return NULL;
}

static int32_t mem[MEMWORDS];
static char out[256];
static int outlen;

struct result {
    uint32_t steps;
    const char *error;
};

static struct result run(int size)
{
    uint32_t stack[64], rstack[32];
    int sp = 0, rsp = 0, pc = 0;
    struct result r = {0, NULL};
    outlen = 0;
#define NEED(n) if (sp < (n)) { r.error = "stack underflow"; return r; }
#define ROOM(n) if (sp + (n) > 64) { r.error = "stack overflow"; return r; }
#define BIN(expr) NEED(2); sp--; stack[sp - 1] = (expr); break
    for (;;) {
        if (pc < 0 || pc >= size) {
            r.error = "pc out of range";
            return r;
        }
        r.steps++;
        uint32_t a = sp > 1 ? stack[sp - 2] : 0, b = sp > 0 ? stack[sp - 1] : 0;
        int32_t op = code[pc++];
        switch (op) {
        case HALT:
            return r;
        case NOP:
            break;
        case PUSH:
            ROOM(1);
            stack[sp++] = (uint32_t)code[pc++];
            break;
        case POP:
            NEED(1);
            sp--;
            break;
        case DUP:
            NEED(1); ROOM(1);
            stack[sp++] = b;
            break;
        case SWAP:
            NEED(2);
            stack[sp - 2] = b;
            stack[sp - 1] = a;
            break;
        case OVER:
            NEED(2); ROOM(1);
            stack[sp++] = a;
            break;
        case ROT: {
            NEED(3);
            uint32_t c = stack[sp - 3];
            stack[sp - 3] = a;
            stack[sp - 2] = b;
            stack[sp - 1] = c;
            break;
        }
        case ADD: BIN(a + b);
        case SUB: BIN(a - b);
        case MUL: BIN(a * b);
        case DIVS:
        case MODS:
            NEED(2);
            if (b == 0 || (a == 0x80000000u && b == 0xffffffffu)) {
                r.error = "division error";
                return r;
            }
            sp--;
            stack[sp - 1] = (uint32_t)(op == DIVS ? (int32_t)a / (int32_t)b : (int32_t)a % (int32_t)b);
            break;
        case DIVU:
            NEED(2);
            if (b == 0) {
                r.error = "division error";
                return r;
            }
            BIN(a / b);
        case NEG:
            NEED(1);
            stack[sp - 1] = 0u - b;
            break;
        case AND: BIN(a & b);
        case OR: BIN(a | b);
        case XOR: BIN(a ^ b);
        case NOT:
            NEED(1);
            stack[sp - 1] = ~b;
            break;
        case SHL: BIN(a << (b & 31));
        case SHR: BIN(a >> (b & 31));
        case SAR: BIN((uint32_t)((int32_t)a >> (b & 31)));
        case EQ: BIN(a == b);
        case NE: BIN(a != b);
        case LT: BIN((int32_t)a < (int32_t)b);
        case LE: BIN((int32_t)a <= (int32_t)b);
        case GT: BIN((int32_t)a > (int32_t)b);
        case GE: BIN((int32_t)a >= (int32_t)b);
        case LTU: BIN(a < b);
        case MIN: BIN((int32_t)a < (int32_t)b ? a : b);
        case MAX: BIN((int32_t)a > (int32_t)b ? a : b);
        case ABS:
            NEED(1);
            stack[sp - 1] = (int32_t)b < 0 ? 0u - b : b;
            break;
        case INC:
            NEED(1);
            stack[sp - 1] = b + 1;
            break;
        case DEC:
            NEED(1);
            stack[sp - 1] = b - 1;
            break;
        case JMP:
            pc = code[pc];
            break;
        case JZ:
        case JNZ:
            NEED(1);
            sp--;
            pc = (b == 0) == (op == JZ) ? code[pc] : pc + 1;
            break;
        case CALL:
            if (rsp == 32) {
                r.error = "call stack overflow";
                return r;
            }
            rstack[rsp++] = (uint32_t)pc + 1;
            pc = code[pc];
            break;
        case RET:
            if (rsp == 0) {
                r.error = "call stack underflow";
                return r;
            }
            pc = (int)rstack[--rsp];
            break;
        case LOAD:
        case STORE:
        case LOADI:
        case STOREI: {
            uint32_t addr;
            if (op == LOADI || op == STOREI)
                addr = (uint32_t)code[pc++];
            else {
                NEED(1);
                addr = stack[--sp];
            }
            if (addr >= MEMWORDS) {
                r.error = "bad memory address";
                return r;
            }
            if (op == LOAD || op == LOADI) {
                ROOM(1);
                stack[sp++] = (uint32_t)mem[addr];
            } else {
                NEED(1);
                mem[addr] = (int32_t)stack[--sp];
            }
            break;
        }
        case PRINT:
        case EMIT:
            NEED(1);
            sp--;
            if (outlen < (int)sizeof out - 12)
                outlen += op == PRINT ? snprintf(out + outlen, 12, "%" PRId32 " ", (int32_t)b)
                                      : snprintf(out + outlen, 2, "%c", (int)(b & 0x7f));
            break;
        default:
            r.error = "illegal opcode";
            return r;
        }
    }
}

struct program {
    const char *name;
    const char *src;
};

static const struct program programs[] = {
    {"sum of squares", "        push 0\n storei 0\n push 1\n storei 1\n"
                       "loop:   loadi 1\n push 300\n gt\n jnz done\n"
                       "        loadi 1\n dup\n mul\n loadi 0\n add\n storei 0\n"
                       "        loadi 1\n inc\n storei 1\n jmp loop\n"
                       "done:   loadi 0\n print\n halt\n"},
    {"sieve", "; count primes below 2000 using mem[16..2016]\n"
              "        push 2\n storei 0          ; i\n"
              "outer:  loadi 0\n dup\n mul\n push 2000\n ge\n jnz count\n"
              "        loadi 0\n push 16\n add\n load\n jnz next\n"
              "        loadi 0\n dup\n mul\n storei 1   ; j = i*i\n"
              "mark:   loadi 1\n push 2000\n ge\n jnz next\n"
              "        push 1\n loadi 1\n push 16\n add\n store\n"
              "        loadi 1\n loadi 0\n add\n storei 1\n jmp mark\n"
              "next:   loadi 0\n inc\n storei 0\n jmp outer\n"
              "count:  push 0\n storei 2\n push 2\n storei 0\n"
              "cl:     loadi 0\n push 2000\n ge\n jnz done\n"
              "        loadi 0\n push 16\n add\n load\n not\n push 1\n and\n loadi 2\n add\n storei 2\n"
              "        loadi 0\n inc\n storei 0\n jmp cl\n"
              "done:   loadi 2\n print\n halt\n"},
    {"recursive fib", "        push 15\n call fib\n print\n halt\n"
                      "fib:    dup\n push 2\n lt\n jnz base\n"
                      "        dup\n dec\n call fib\n swap\n push 2\n sub\n call fib\n add\n ret\n"
                      "base:   ret\n"},
    {"collatz", "; longest Collatz chain for start values below 150\n"
                "        push 1\n storei 0\n push 0\n storei 1\n push 0\n storei 2\n"
                "next:   loadi 0\n push 150\n ge\n jnz done\n loadi 0\n push 0\n storei 3\n"
                "step:   dup\n push 1\n eq\n jnz end\n"
                "        dup\n push 1\n and\n jz even\n"
                "        push 3\n mul\n inc\n jmp count\n"
                "even:   push 1\n shr\n"
                "count:  loadi 3\n inc\n storei 3\n jmp step\n"
                "end:    pop\n loadi 3\n loadi 1\n gt\n jz skip\n"
                "        loadi 3\n storei 1\n loadi 0\n storei 2\n"
                "skip:   loadi 0\n inc\n storei 0\n jmp next\n"
                "done:   loadi 2\n print\n loadi 1\n print\n halt\n"},
    {"alu mix", "        push -7\n push 2\n divs\n print\n push -7\n push 2\n mods\n print\n"
                "        push -7\n push 2\n divu\n print\n push -1\n push 28\n shr\n print\n"
                "        push -256\n push 4\n sar\n print\n push 3\n push 5\n push 7\n rot\n sub\n sub\n print\n"
                "        push 10\n push -20\n min\n push 5\n max\n abs\n print\n"
                "        push 0x55\n push 0x0f\n xor\n push 0xf0\n or\n push 0x3c\n and\n print\n"
                "        push 1\n push 2\n ltu\n push -1\n push 2\n ltu\n over\n over\n le\n print\n print\n print\n"
                "        push 72\n emit\n push 105\n emit\n nop\n halt\n"},
    {"div by zero", " push 1\n push 0\n divs\n halt\n"},
    {"underflow", " push 1\n add\n halt\n"},
    {"bad label", " jmp nowhere\n"},
    {"bad mnemonic", " push 1\n frobnicate\n"},
    {"bad slot", " loadi 4096\n halt\n"},
    {"bad target", " push 1\n jz 2\n jmp 99\n"},
};

int main(void)
{
    uint32_t check = 0, total = 0;
    for (unsigned i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        printf("%-15s ", programs[i].name);
        int size = assemble(programs[i].src);
        if (size < 0)
            continue;
        struct stats st = {0};
        const char *bad = check_code(size, &st);
        if (bad) {
            printf("rejected: %s\n", bad);
            continue;
        }
        printf("[stack %2" PRIu32 " alu %2" PRIu32 " cmp %" PRIu32 " br %" PRIu32 " mem %2" PRIu32 " io %2" PRIu32 "] ",
               st.stack, st.alu, st.cmp, st.branch, st.mem, st.io);
        memset(mem, 0, sizeof mem);
        struct result r = run(size);
        out[outlen] = '\0';
        printf("%3d words, %6" PRIu32 " steps: %s%s\n", size, r.steps, r.error ? "error: " : "",
               r.error ? r.error : out);
        total += r.steps;
        check = check * 31u + r.steps;
        for (int k = 0; k < outlen; k++)
            check = check * 31u + (unsigned char)out[k];
    }
    printf("total steps %" PRIu32 ", check %08" PRIx32 "\n", total, check);
    return (int)(check & 0x7f);
}
