/* options.c — the HAKMEM_* environment options: one table, parsed once at
 * initialisation straight from `environ` (getenv is fine too, but the
 * table lets us warn about misspelt names).  A bad value is reported with
 * its valid range and the default is kept.  HAKMEM_VERBOSE=1 lists the
 * result.  Nothing here allocates: this may run inside the first malloc. */
#include "internal.h"

#include <string.h>

extern char **environ;

hak_options_t hak_opt = {
#if HAKMEM_SUPERSLAB
    .use_superslab = true,
#else
    .use_superslab = false,
#endif
    .stats = false,
    .ss_cache = 4,
    .mid_max = HAK_MID_MAX,
    .tls_cap_scale = 100,
    .bigcache_max = (size_t)64 << 20,
    .bigcache_peak = (size_t)1 << 30,
    .bigcache_live = 40,
    .decay_ms = 1000,
    .decay_thread = true,
    .batch_bytes = (size_t)4 << 20,
    .batch_ranges = 256,
    .madv_free = false,
    .retain_max = (size_t)256 << 20,
    .large_hugepage = true,
    .ss_hugepage_after = (size_t)8 << 20,
    .elo = true,
    .large_release = (size_t)64 << 30,
    .elo_epoch = 64,
    .elo_fault_ns = 0,
    .elo_hold_ns = 1000000,
    .verbose = false,
    .stats_file = NULL,
};

/* OPT_STRING values point into environ: nothing is copied, so nothing is
 * allocated. */
typedef enum { OPT_BOOL, OPT_U32, OPT_SIZE, OPT_STRING } opt_type_t;

typedef struct {
    const char *name;
    opt_type_t  type;
    void       *value;
    uint64_t    min, max;
    const char *help;
} opt_desc_t;

#if HAKMEM_SUPERSLAB
#define HAKMEM_SUPERSLAB_STR "on"
#else
#define HAKMEM_SUPERSLAB_STR "off"
#endif
#if HAKMEM_DEBUG
#define HAKMEM_DEBUG_STR "on"
#else
#define HAKMEM_DEBUG_STR "off"
#endif
#if HAKMEM_DEBUG_COUNTERS
#define HAKMEM_DEBUG_COUNTERS_STR "on"
#else
#define HAKMEM_DEBUG_COUNTERS_STR "off"
#endif

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

static const opt_desc_t options[] = {
    { "HAKMEM_TINY_USE_SUPERSLAB", OPT_BOOL, &hak_opt.use_superslab, 0, 1,
      "take slabs from 2 MiB SuperSlabs (1) or map each slab on its own (0)" },
    { "HAKMEM_STATS", OPT_BOOL, &hak_opt.stats, 0, 1,
      "print the statistics report to stderr at exit" },
    { "HAKMEM_STATS_FILE", OPT_STRING, &hak_opt.stats_file, 0, 0,
      "write the HAKMEM_STATS report to this file (%p: the pid), not stderr" },
    { "HAKMEM_VERBOSE", OPT_BOOL, &hak_opt.verbose, 0, 1,
      "list the build configuration and every option's value at initialisation" },
    { "HAKMEM_SS_CACHE", OPT_U32, &hak_opt.ss_cache, 0, 1024,
      "empty SuperSlabs kept mapped for reuse" },
    { "HAKMEM_SS_HUGEPAGE_AFTER", OPT_SIZE, &hak_opt.ss_hugepage_after, 0, 1024 * GiB,
      "SuperSlab bytes mapped after which new SuperSlabs use transparent huge pages" },
    { "HAKMEM_MID_MAX", OPT_U32, &hak_opt.mid_max, HAK_TINY_MAX, HAK_MID_MAX,
      "largest size served from slabs; larger sizes get their own mapping" },
    { "HAKMEM_TLS_CAP_SCALE", OPT_U32, &hak_opt.tls_cap_scale, 10, 1000,
      "per-thread cache capacity, in percent of the built-in default" },
    { "HAKMEM_BIGCACHE_MAX", OPT_SIZE, &hak_opt.bigcache_max, 0, 64 * GiB,
      "bytes of freed large blocks kept mapped for reuse, at least (0: no BigCache)" },
    { "HAKMEM_BIGCACHE_PEAK", OPT_SIZE, &hak_opt.bigcache_peak, 0, 64 * GiB,
      "BigCache may also hold what live large blocks fell below their recent peak, up to this (0: no)" },
    { "HAKMEM_BIGCACHE_LIVE", OPT_U32, &hak_opt.bigcache_live, 0, 1000,
      "BigCache may also hold this percentage of the live large bytes, up to HAKMEM_BIGCACHE_PEAK" },
    { "HAKMEM_DECAY_MS", OPT_U32, &hak_opt.decay_ms, 1, 3600000,
      "milliseconds after which cached memory goes back to the kernel" },
    { "HAKMEM_DECAY_THREAD", OPT_BOOL, &hak_opt.decay_thread, 0, 1,
      "a background thread applies the decay while the program is idle" },
    { "HAKMEM_BATCH_BYTES", OPT_SIZE, &hak_opt.batch_bytes, 4 * KiB, 64 * GiB,
      "released bytes pending before the batch calls madvise" },
    { "HAKMEM_BATCH_RANGES", OPT_U32, &hak_opt.batch_ranges, 1, 1024,
      "released ranges pending before the batch calls madvise" },
    { "HAKMEM_MADV_FREE", OPT_BOOL, &hak_opt.madv_free, 0, 1,
      "release with MADV_FREE (lazy, RSS falls only under pressure) instead of MADV_DONTNEED" },
    { "HAKMEM_RETAIN_MAX", OPT_SIZE, &hak_opt.retain_max, 0, 1024 * GiB,
      "released address space kept mapped for reuse; beyond it, munmap" },
    { "HAKMEM_LARGE_HUGEPAGE", OPT_BOOL, &hak_opt.large_hugepage, 0, 1,
      "transparent huge pages for the 2 MiB windows a large block fills (the last one: three quarters)" },
    { "HAKMEM_ELO", OPT_BOOL, &hak_opt.elo, 0, 1,
      "choose the large-block retention threshold by tournament (1, default; 0: HAKMEM_LARGE_RELEASE)" },
    { "HAKMEM_LARGE_RELEASE", OPT_SIZE, &hak_opt.large_release, 16 * KiB, 64 * GiB,
      "with HAKMEM_ELO=0: freed large blocks this big or bigger are not cached (64G: all are)" },
    { "HAKMEM_ELO_EPOCH", OPT_U32, &hak_opt.elo_epoch, 4, 1000000,
      "large operations per tournament epoch" },
    { "HAKMEM_ELO_FAULT_NS", OPT_U32, &hak_opt.elo_fault_ns, 0, 100000000,
      "tournament price of a 4 KiB page faulted in, in ns (0: measured at the first large free)" },
    { "HAKMEM_ELO_CALL_NS", OPT_U32, &hak_opt.elo_call_ns, 0, 100000000,
      "tournament price of a kernel call (mmap, madvise, munmap), in ns (0: measured)" },
    { "HAKMEM_ELO_HOLD_NS", OPT_U32, &hak_opt.elo_hold_ns, 0, 1000000000,
      "tournament cost of holding 1 MiB in BigCache for 1 s, in ns" },
};

/* ASCII only: strcasecmp would consult the locale, which the program may
 * not have set up yet. */
static bool word_is(const char *s, const char *word)
{
    for (; *word; s++, word++)
        if ((*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s) != *word)
            return false;
    return *s == '\0';
}

/* The spellings people use in shell scripts and unit files. */
static bool parse_bool(const char *s, uint64_t *out)
{
    static const char *const yes[] = { "1", "yes", "on", "true" };
    static const char *const no[] = { "0", "no", "off", "false" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (word_is(s, yes[i]) || word_is(s, no[i])) {
            *out = word_is(s, yes[i]);
            return true;
        }
    }
    return false;
}

/* Decimal, with a K, M or G suffix (powers of 1024) for sizes. */
static bool parse_num(const char *s, bool suffix, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > ((uint64_t)1 << 50))
            return false;
    }
    if (suffix && *s != '\0' && s[1] == '\0') {
        unsigned shift = *s == 'K' || *s == 'k' ? 10 : *s == 'M' || *s == 'm' ? 20 :
                         *s == 'G' || *s == 'g' ? 30 : 0;
        if (shift == 0)
            return false;
        v <<= shift;
        s++;
    }
    if (*s != '\0')
        return false;
    *out = v;
    return true;
}

/* Sizes are shown the way they are best typed: 64M rather than 67108864. */
static size_t fmt_size(char *buf, uint64_t v)
{
    static const char units[] = "KMG";
    int u = -1;
    while (u < 2 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    size_t n = hak_fmt_u64(buf, v);
    if (u >= 0) {
        buf[n++] = units[u];
        buf[n] = '\0';
    }
    return n;
}

static void fmt_value(const opt_desc_t *o, char *buf, uint64_t v)
{
    if (o->type == OPT_SIZE)
        fmt_size(buf, v);
    else
        hak_fmt_u64(buf, v);
}

static void warn_bad(const opt_desc_t *o, const char *val)
{
    char range[64], num[24];
    if (o->type == OPT_BOOL) {
        strcpy(range, "0/1, no/yes, off/on, false/true");
    } else {
        fmt_value(o, range, o->min);
        strcat(range, "..");
        fmt_value(o, num, o->max);
        strcat(range, num);
    }
    hak_warnf("%s=%s is not valid (%s); using the default", o->name, val, range);
}

static void apply(const opt_desc_t *o, const char *val)
{
    uint64_t v;
    if (o->type == OPT_STRING) {
        /* empty: as if unset, so `HAKMEM_STATS_FILE= prog` undoes an export */
        *(const char **)o->value = *val ? val : NULL;
        return;
    }
    bool ok = o->type == OPT_BOOL ? parse_bool(val, &v) : parse_num(val, o->type == OPT_SIZE, &v);
    if (!ok || v < o->min || v > o->max) {
        warn_bad(o, val);
        return;
    }
    if (o->type == OPT_BOOL)
        *(bool *)o->value = v != 0;
    else if (o->type == OPT_SIZE)
        *(size_t *)o->value = (size_t)v;
    else
        *(uint32_t *)o->value = (uint32_t)v;
}

/* What a bug report needs to reproduce the run: how the library was
 * configured at build time, then the value each option ended up with. */
static void print_verbose(int fd)
{
    hak_write_str(fd, "hakmem " PACKAGE_VERSION ", built with: superslab (default) "
                  HAKMEM_SUPERSLAB_STR ", debug " HAKMEM_DEBUG_STR
                  ", debug counters " HAKMEM_DEBUG_COUNTERS_STR "\n");
    hak_write_str(fd, "hakmem options in effect:\n");
    hak_options_print(fd);
}

void hak_options_init(void)
{
    if (environ == NULL)
        return;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "HAKMEM_", 7) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        size_t nlen = (size_t)(eq - *e);
        bool known = false;
        for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
            if (strlen(options[i].name) == nlen && strncmp(options[i].name, *e, nlen) == 0) {
                apply(&options[i], eq + 1);
                known = true;
                break;
            }
        }
        if (!known) {
            char name[101];
            size_t n = nlen < sizeof name - 1 ? nlen : sizeof name - 1;
            memcpy(name, *e, n);
            name[n] = '\0';
            hak_warnf("unknown option %s ignored", name);
        }
    }
    if (hak_opt.verbose)
        print_verbose(2);
}

/* For the stats report and HAKMEM_VERBOSE. */
void hak_options_print(int fd)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        char num[24];
        const opt_desc_t *o = &options[i];
        hak_write_str(fd, "  ");
        hak_write_str(fd, o->name);
        hak_write_str(fd, "=");
        if (o->type == OPT_STRING) {
            const char *s = *(const char **)o->value;
            hak_write_str(fd, s ? s : "");
        } else {
            uint64_t v = o->type == OPT_BOOL ? *(bool *)o->value :
                         o->type == OPT_SIZE ? *(size_t *)o->value : *(uint32_t *)o->value;
            fmt_value(o, num, v);
            hak_write_str(fd, num);
        }
        hak_write_str(fd, "  # ");
        hak_write_str(fd, o->help);
        hak_write_str(fd, "\n");
    }
}
