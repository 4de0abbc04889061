/* stdin until EOF: counts bytes, lines, words and a checksum; reports to stdout and stderr. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>

int main(void)
{
    uint32_t bytes = 0, lines = 0, words = 0, longest = 0, cur = 0, sum = 0;
    uint32_t hist[4] = {0}; /* digits, letters, spaces, other */
    int in_word = 0, c;
    while ((c = getchar()) != EOF) {
        bytes++;
        sum = (sum << 5 | sum >> 27) ^ (uint32_t)c;
        if (c == '\n') {
            lines++;
            if (cur > longest)
                longest = cur;
            cur = 0;
        } else {
            cur++;
        }
        int space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (space)
            in_word = 0;
        else if (!in_word) {
            in_word = 1;
            words++;
        }
        if (c >= '0' && c <= '9')
            hist[0]++;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            hist[1]++;
        else if (space)
            hist[2]++;
        else
            hist[3]++;
    }
    if (cur > longest)
        longest = cur;
    printf("%8" PRIu32 " %8" PRIu32 " %8" PRIu32 "\n", lines, words, bytes);
    printf("longest line %" PRIu32 ", digits %" PRIu32 ", letters %" PRIu32 ", spaces %" PRIu32 ", other %" PRIu32 "\n",
           longest, hist[0], hist[1], hist[2], hist[3]);
    printf("checksum %08" PRIx32 "\n", sum);
    fprintf(stderr, "wc: read %" PRIu32 " bytes in %" PRIu32 " lines\n", bytes, lines);
    if (bytes == 0)
        fputs("wc: warning: empty input\n", stderr);
    return (int)(lines & 0x7f);
}
