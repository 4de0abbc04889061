/* litmus_handler [LIMIT]: the guest of the handler-time litmus tests (tests/test_model.py).  Core 0 calls
 * litmus_site, a 16-bit NOP that the host patches into a BKPT handled by a host "bkpt" hook (which resumes past
 * it), and counts the calls in `counter` until the host sets `stop` (or LIMIT calls, default 10000, so that it
 * also ends alone). */
#include <stdlib.h>

volatile unsigned counter, stop;

void litmus_site(void);
__asm__(".text\n"
        ".balign 2\n"
        ".global litmus_site\n"
        ".thumb_func\n"
        ".type litmus_site, %function\n"
        "litmus_site:\n"
        "\tnop\n"
        "\tbx lr\n"
        ".size litmus_site, . - litmus_site\n");

int main(int argc, char **argv)
{
    unsigned limit = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
    while (!stop && counter < limit) {
        litmus_site();
        counter++;
    }
    return 0;
}
