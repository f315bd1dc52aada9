/* os.c — everything hakmem asks of the kernel: mappings (with accounting),
 * the clocks, and the diagnostics written with write(2), because stdio may
 * allocate.
 * Also the metadata arena: heaps and out-of-line tables come from here,
 * never from the allocator they describe. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Clocks: the vDSO answers, no system call. */
struct timespec hak_os_clock(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        ts = (struct timespec){ 0 };
    return ts;
}

uint64_t hak_now_ms(void)
{
    struct timespec ts = hak_os_clock(CLOCK_MONOTONIC_COARSE);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t hak_now_ns(void)
{
    struct timespec ts = hak_os_clock(CLOCK_MONOTONIC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *map_prot(size_t size, int prot)
{
    void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_fetch_add_explicit(&hak_stats.map_calls, 1, memory_order_relaxed);
    hak_stats_add(&hak_stats.mapped, (int64_t)size, &hak_stats.mapped_peak);
    return p;
}

void *hak_os_map(size_t size)
{
    return map_prot(size, PROT_READ | PROT_WRITE);
}

/* Address space that is only touched where used (the registry): not
 * counted as mapped memory, which would be misleading.  Read-only, so that
 * strict overcommit does not charge it (a private writable mapping is
 * charged in full whatever MAP_NORESERVE says); reads of it give zeros.
 * hak_os_commit makes the pieces that are written writable: that charges
 * them, and only them. */
void *hak_os_reserve(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Fails (ENOMEM) past the commit limit, or at vm.max_map_count: the range
 * is carved out of a larger mapping, which splits it. */
bool hak_os_commit(void *p, size_t size)
{
    if (mprotect(p, size, PROT_READ | PROT_WRITE) == 0)
        return true;
    errno = ENOMEM;
    return false;
}

/* Ranges whose munmap failed.  munmap of part of a mapping splits it, and a
 * split fails with ENOMEM once the process has vm.max_map_count mappings;
 * aborting there would turn "many mappings" into a crash.  Their pages are
 * dropped at once (madvise does not split), their address space is unmapped
 * when a later attempt succeeds.  Under meta_lock, which is taken last. */
#define MAX_DEFERRED 64
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uintptr_t start, end; } deferred[MAX_DEFERRED];
static unsigned ndeferred;              /* written under meta_lock, peeked without */

static void unmapped(size_t size)
{
    atomic_fetch_add_explicit(&hak_stats.unmap_calls, 1, memory_order_relaxed);
    hak_stats_add(&hak_stats.mapped, -(int64_t)size, NULL);
}

/* Another try for each deferred range; cheap when there is none. */
void hak_os_retry_unmaps(void)
{
    if (__atomic_load_n(&ndeferred, __ATOMIC_RELAXED) == 0)
        return;
    pthread_mutex_lock(&meta_lock);
    for (unsigned i = 0; i < ndeferred;) {
        size_t len = deferred[i].end - deferred[i].start;
        if (munmap((void *)deferred[i].start, len) != 0) {
            i++;
            continue;
        }
        unmapped(len);
        deferred[i] = deferred[ndeferred - 1];
        __atomic_store_n(&ndeferred, ndeferred - 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&meta_lock);
}

/* Never fails and never aborts: what cannot be unmapped now is emptied and
 * remembered.  Only when 64 disjoint ranges are already waiting does a range
 * stay mapped for good; its pages are still given back, so it costs address
 * space, not memory. */
void hak_os_unmap(void *p, size_t size)
{
    hak_os_retry_unmaps();
    if (munmap(p, size) == 0) {
        unmapped(size);
        return;
    }
    madvise(p, size, MADV_DONTNEED);
    uintptr_t s = (uintptr_t)p, e = s + size;
    pthread_mutex_lock(&meta_lock);
    unsigned i;
    for (i = 0; i < ndeferred; i++) {
        if (deferred[i].end == s) {
            deferred[i].end = e;
            break;
        }
        if (deferred[i].start == e) {
            deferred[i].start = s;
            break;
        }
    }
    if (i == ndeferred && ndeferred < MAX_DEFERRED) {
        deferred[i].start = s;
        deferred[i].end = e;
        __atomic_store_n(&ndeferred, ndeferred + 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&meta_lock);
}

/* Over-map by the alignment and trim both ends, so the result owns its
 * aligned windows exclusively.  A failed trim (max_map_count) leaves the
 * aligned part usable: hak_os_unmap keeps the rest for a later attempt. */
static void *map_aligned_prot(size_t size, size_t align, int prot)
{
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    hak_os_retry_unmaps();
    char *raw = map_prot(size + align, prot);
    if (raw == NULL)
        return NULL;
    uintptr_t base = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = base - (uintptr_t)raw;
    size_t tail = align - head;
    if (head)
        hak_os_unmap(raw, head);
    if (tail)
        hak_os_unmap((char *)base + size, tail);
    return (void *)base;
}

void *hak_os_map_aligned(size_t size, size_t align)
{
    return map_aligned_prot(size, align, PROT_READ | PROT_WRITE);
}

/* Address space for later use, PROT_NONE: strict overcommit charges it
 * piece by piece as hak_os_commit makes pieces writable, not up front.
 * Counted as mapped, like hak_os_map_aligned, since it is used the same
 * way (batch.c's chunks). */
void *hak_os_reserve_aligned(size_t size, size_t align)
{
    return map_aligned_prot(size, align, PROT_NONE);
}

/* Every madvise goes through here so that the report can show how well
 * batching works (calls against ranges released). */
/* Moves or grows a mapping with its pages: in place when `target` is
 * NULL, else onto `target` (which it replaces). */
void *hak_os_remap(void *old, size_t old_size, size_t size, void *target)
{
    void *p = target == NULL ? mremap(old, old_size, size, 0)
                             : mremap(old, old_size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    return p == MAP_FAILED ? NULL : p;
}

bool hak_os_advise(void *p, size_t size, int advice)
{
    if (madvise(p, size, advice) != 0)
        return false;
    if (advice == MADV_DONTNEED || advice == MADV_FREE) {
        atomic_fetch_add_explicit(&hak_stats.madvise_calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&hak_stats.madvise_bytes, size, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&hak_stats.advise_calls, 1, memory_order_relaxed);
    }
    return true;
}

/* munmap that may fail (a split at vm.max_map_count): the caller keeps the
 * range instead of aborting. */
bool hak_os_try_unmap(void *p, size_t size)
{
    if (munmap(p, size) != 0)
        return false;
    atomic_fetch_add_explicit(&hak_stats.unmap_calls, 1, memory_order_relaxed);
    hak_stats_add(&hak_stats.mapped, -(int64_t)size, NULL);
    return true;
}

void hak_write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

size_t hak_fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

size_t hak_fmt_hex(char *buf, uintptr_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    buf[0] = '0';
    buf[1] = 'x';
    for (size_t i = 0; i < n; i++)
        buf[2 + i] = tmp[n - 1 - i];
    buf[2 + n] = '\0';
    return n + 2;
}

/* One line, then abort: misuse must not be survivable, and the message
 * must not depend on the heap that was just found corrupted. */
void hak_fatal(const char *what, const void *ptr)
{
    char line[256], hex[24];
    size_t n = 0, len = strlen(what);
    static const char pre[] = "hakmem: ";
    memcpy(line, pre, sizeof pre - 1);
    n = sizeof pre - 1;
    if (len > sizeof line - 48)
        len = sizeof line - 48;
    memcpy(line + n, what, len);
    n += len;
    if (ptr != NULL) {
        memcpy(line + n, " (ptr=", 6);
        n += 6;
        size_t h = hak_fmt_hex(hex, (uintptr_t)ptr);
        memcpy(line + n, hex, h);
        n += h;
        line[n++] = ')';
    }
    line[n++] = '\n';
    line[n] = '\0';
    hak_write_str(2, line);
    abort();
}

void hak_warn(const char *msg)
{
    char line[320];
    static const char pre[] = "hakmem: ";
    size_t len = strlen(msg);
    if (len > sizeof line - sizeof pre - 2)
        len = sizeof line - sizeof pre - 2;
    memcpy(line, pre, sizeof pre - 1);
    memcpy(line + sizeof pre - 1, msg, len);
    line[sizeof pre - 1 + len] = '\n';
    line[sizeof pre + len] = '\0';
    hak_write_str(2, line);
}

/* hak_warn with %s conversions only, each argument cut to 100 bytes so
 * that the rest of the message survives a long value.  A format is one
 * literal, so tests/man.sh finds every message in the sources and checks
 * that hakmem(7) explains it. */
void hak_warnf(const char *fmt, ...)
{
    char msg[300];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f && n < sizeof msg - 1; f++) {
        if (f[0] == '%' && f[1] == 's') {
            const char *a = va_arg(ap, const char *);
            for (size_t k = 0; a[k] && k < 100 && n < sizeof msg - 1; k++)
                msg[n++] = a[k];
            f++;
        } else {
            msg[n++] = *f;
        }
    }
    va_end(ap);
    msg[n] = '\0';
    hak_warn(msg);
}

/* Bump allocation from 1 MiB chunks; metadata is small and long-lived
 * (heaps are recycled by heap.c, tables stay with their windows). */
static char  *meta_cur;
static size_t meta_left;
#define META_CHUNK ((size_t)1 << 20)

void *hak_meta_alloc(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    pthread_mutex_lock(&meta_lock);
    if (size > meta_left) {
        size_t chunk = size > META_CHUNK ? size : META_CHUNK;
        char *p = hak_os_map(chunk);
        if (p == NULL) {
            pthread_mutex_unlock(&meta_lock);
            return NULL;
        }
        meta_cur = p;
        meta_left = chunk;
    }
    void *r = meta_cur;
    meta_cur += size;
    meta_left -= size;
    pthread_mutex_unlock(&meta_lock);
    return r;
}

void hak_meta_lock(void)   { pthread_mutex_lock(&meta_lock); }
void hak_meta_unlock(void) { pthread_mutex_unlock(&meta_lock); }
void hak_meta_reset(void)  { pthread_mutex_init(&meta_lock, NULL); }
