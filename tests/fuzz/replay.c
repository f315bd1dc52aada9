/* Runs the fuzz harness (fuzz_api.c) on saved inputs, without libFuzzer:
 *
 *     tests/fuzz/replay FILE|DIR...
 *
 * With no arguments it runs the seed corpus, $top_srcdir/tests/fuzz/seeds,
 * which is how `make check` uses it (in every build, with gcc).  It is
 * also how to reproduce a crash that `make fuzz` saved, in a debugger.
 * Exit status 0 when every input ran (a failing input aborts). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

static int run(const char *path, int *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        ++*count;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return 1;
    }
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        bad |= run(p, count);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0, count = 0;
    if (argc < 2) {
        const char *top = getenv("top_srcdir");
        char seeds[4096];
        snprintf(seeds, sizeof seeds, "%s/tests/fuzz/seeds", top && *top ? top : ".");
        bad = run(seeds, &count);
    }
    for (int i = 1; i < argc; i++)
        bad |= run(argv[i], &count);
    printf("replay: %d inputs\n", count);
    return bad || count == 0;
}
