/* litmus_handler: the guest of the handler-time litmus tests (tests/test_model.py).  Core 0 calls litmus_site,
 * a 16-bit NOP that the host patches into a BKPT handled by a host "bkpt" hook (which resumes past it), and
 * counts the calls in `counter` until the host sets `stop`. */
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

int main(void)
{
    while (!stop) {
        litmus_site();
        counter++;
    }
    return 0;
}
