/* argc/argv: prints each argument with its length; numeric ones (strtoll, base 0) are summed. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int64_t sum = 0;
    int numeric = 0;
    printf("argc-1 = %d\n", argc - 1);
    for (int i = 1; i < argc; i++) {
        char *end;
        int64_t v = strtoll(argv[i], &end, 0);
        int is_num = argv[i][0] != '\0' && *end == '\0';
        printf("argv[%d] = \"%s\" (len %u)%s\n", i, argv[i], (unsigned)strlen(argv[i]), is_num ? " numeric" : "");
        if (is_num) {
            sum += v;
            numeric++;
        }
    }
    printf("numeric args: %d, sum = %" PRId64 "\n", numeric, sum);
    return (argc - 1) & 0x7f;
}
