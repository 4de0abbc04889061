/* Minimal bare-metal image for the loader tests: sized and unsized functions, .data, .bss,
   and a semihosting SYS_EXIT_EXTENDED exit so it also runs under tests/reference. */
int counter = 5;
int table[64];

__asm__(".text\n.global nosize\n.type nosize, %function\n.thumb_func\nnosize:\n\tbx lr\n");

int __attribute__((noinline)) add(int a, int b) { return a + b; }

void __attribute__((noreturn)) sh_exit(int code)
{
    int block[2] = { 0x20026, code };   /* ADP_Stopped_ApplicationExit, exit code */
    register int r0 __asm__("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register int *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    __builtin_unreachable();
}

int main(void)
{
    for (int i = 0; i < 64; i++)
        table[i] = add(i, counter);
    return table[63] - 60;   /* 8 */
}

void __attribute__((naked, section(".text.start"))) _start(void)
{
    __asm__("ldr sp, =_stack_top\n\tbl main\n\tbl sh_exit\n");
}
