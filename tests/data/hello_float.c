/* End-to-end check for the rdimon runtime: argv, stdin, printf("%f") through soft-float, stderr,
   and a nonzero exit code. */
#include <stdio.h>

int main(int argc, char **argv)
{
    double x = 1.0;
    char line[64];

    for (int i = 0; i < 10 + argc; i++)
        x *= 1.5;
    printf("x=%f\n", x);
    printf("argc=%d argv[1]=%s\n", argc, argc > 1 ? argv[1] : "-");
    if (fgets(line, sizeof line, stdin))
        printf("stdin: %s", line);
    fprintf(stderr, "done\n");
    return 3;
}
