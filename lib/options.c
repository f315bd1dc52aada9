/* options.c — the HAKMEM_* environment options: one table, parsed once at
 * initialisation straight from `environ` (getenv is fine too, but the
 * table lets us warn about misspelt names).  A bad value is reported with
 * its valid range and the default is kept. */
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
};

typedef enum { OPT_BOOL, OPT_U32 } opt_type_t;

typedef struct {
    const char *name;
    opt_type_t  type;
    void       *value;
    uint32_t    min, max;
    const char *help;
} opt_desc_t;

static const opt_desc_t options[] = {
    { "HAKMEM_TINY_USE_SUPERSLAB", OPT_BOOL, &hak_opt.use_superslab, 0, 1,
      "take slabs from 2 MiB SuperSlabs (1) or map each slab on its own (0)" },
    { "HAKMEM_STATS", OPT_BOOL, &hak_opt.stats, 0, 1,
      "print the statistics report to stderr at exit" },
    { "HAKMEM_SS_CACHE", OPT_U32, &hak_opt.ss_cache, 0, 1024,
      "empty SuperSlabs kept mapped for reuse" },
    { "HAKMEM_MID_MAX", OPT_U32, &hak_opt.mid_max, HAK_TINY_MAX, HAK_MID_MAX,
      "largest size served from slabs; larger sizes get their own mapping" },
    { "HAKMEM_TLS_CAP_SCALE", OPT_U32, &hak_opt.tls_cap_scale, 10, 1000,
      "per-thread cache capacity, in percent of the built-in default" },
};

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

static void warn_bad(const opt_desc_t *o, const char *val)
{
    char msg[256], num[24];
    msg[0] = '\0';
    strncat(msg, o->name, 64);
    strcat(msg, "=");
    strncat(msg, val, 40);
    strcat(msg, " is not valid (");
    if (o->type == OPT_BOOL) {
        strcat(msg, "0 or 1");
    } else {
        hak_fmt_u64(num, o->min);
        strcat(msg, num);
        strcat(msg, "..");
        hak_fmt_u64(num, o->max);
        strcat(msg, num);
    }
    strcat(msg, "); using the default");
    hak_warn(msg);
}

static void apply(const opt_desc_t *o, const char *val)
{
    uint32_t v;
    if (!parse_u32(val, &v) || v < o->min || v > o->max) {
        warn_bad(o, val);
        return;
    }
    if (o->type == OPT_BOOL)
        *(bool *)o->value = v != 0;
    else
        *(uint32_t *)o->value = v;
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
            char msg[160] = "unknown option ";
            strncat(msg, *e, nlen < 100 ? nlen : 100);
            strcat(msg, " ignored");
            hak_warn(msg);
        }
    }
}

/* For the stats report and `hakmem --help`-style listings. */
void hak_options_print(int fd)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        char num[24];
        const opt_desc_t *o = &options[i];
        uint32_t v = o->type == OPT_BOOL ? *(bool *)o->value : *(uint32_t *)o->value;
        hak_write_str(fd, "  ");
        hak_write_str(fd, o->name);
        hak_write_str(fd, "=");
        hak_fmt_u64(num, v);
        hak_write_str(fd, num);
        hak_write_str(fd, "  # ");
        hak_write_str(fd, o->help);
        hak_write_str(fd, "\n");
    }
}
