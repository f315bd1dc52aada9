/* leak — a program with a known leak, for tests/leak.sh; not linked with
 * hakmem (it runs under the interposer).
 *
 *   leak THREADS BLOCKS SIZE
 *
 * Each thread allocates 2*BLOCKS blocks of SIZE bytes, frees BLOCKS of
 * them itself and hands the others to the main thread, which frees half
 * of them after the thread has exited (frees into another thread's spans)
 * and leaks the rest: THREADS * BLOCKS / 2 blocks in all.  With BLOCKS 0
 * it does everything else the same, as a baseline. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned blocks;
static size_t size;

static void *worker(void *arg)
{
    void **keep = malloc((blocks + 1) * sizeof *keep);
    if (keep == NULL)
        exit(2);
    for (unsigned i = 0; i < 2 * blocks; i++) {
        void *p = malloc(size);
        if (p == NULL)
            exit(2);
        memset(p, (int)i, size);
        if (i % 2)
            free(p);
        else
            keep[i / 2] = p;
    }
    (void)arg;
    return keep;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: leak THREADS BLOCKS SIZE\n");
        return 2;
    }
    unsigned threads = (unsigned)atoi(argv[1]);
    blocks = (unsigned)atoi(argv[2]);
    size = (size_t)atol(argv[3]);
    for (unsigned t = 0; t < threads; t++) {
        pthread_t th;
        void *ret;
        if (pthread_create(&th, NULL, worker, NULL) != 0 || pthread_join(th, &ret) != 0)
            return 2;
        void **keep = ret;
        for (unsigned i = 0; i < blocks / 2; i++)
            free(keep[i]);
        free(keep);             /* keep[blocks/2 ..] stay allocated: the leak */
    }
    return 0;
}
