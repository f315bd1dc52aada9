/* cxx.c — the C++ allocation operators, for the interposer: operator new
 * and new[] with their nothrow and align_val_t forms, and every form of
 * operator delete, defined under their Itanium-ABI names so that a C++
 * program reaches hakmem's fast paths directly instead of through
 * libstdc++'s operators and then malloc.
 *
 * The library stays C and links no C++ runtime.  What only C++ can do —
 * ask std::get_new_handler, throw std::bad_alloc — is borrowed from the
 * program's libstdc++ through weak references, resolved when the program
 * is a C++ one (a C program that dlopens C++ code later finds them by
 * dlsym).  A new-handler may throw, and the nothrow forms must then return
 * NULL; C cannot catch, so when a handler is installed the nothrow forms
 * hand the request to libstdc++'s own nothrow operator (the next
 * definition, RTLD_NEXT), which calls our throwing one inside its try.
 *
 * Sized delete checks the size against the block (alloc.h compares the
 * class of tiny sizes on the fast path; hakmem.c checks the rest): the
 * size lets nothing be skipped, since the owner test needs the span anyway,
 * but a wrong one is misuse and is reported. */
#include "alloc.h"

#include <dlfcn.h>
#include <errno.h>

typedef void (*hak_new_handler_t)(void);

/* libstdc++'s std::get_new_handler() and std::__throw_bad_alloc() */
extern hak_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

static void *cxx_symbol(void *weak, const char *name)
{
    return weak != NULL ? weak : dlsym(RTLD_DEFAULT, name);
}

static hak_new_handler_t new_handler(void)
{
    hak_new_handler_t (*get)(void) = (hak_new_handler_t (*)(void))
        cxx_symbol((void *)_ZSt15get_new_handlerv, "_ZSt15get_new_handlerv");
    return get != NULL ? get() : NULL;
}

HAK_COLD HAK_NORETURN static void throw_bad_alloc(void)
{
    void (*t)(void) = (void (*)(void))cxx_symbol((void *)_ZSt17__throw_bad_allocv, "_ZSt17__throw_bad_allocv");
    if (t != NULL)
        t();
    hak_fatal("operator new: out of memory, and no C++ runtime to throw std::bad_alloc", NULL);
}

static bool pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

static void *alloc_any(size_t size, size_t align, const void *site)
{
    return align == 0 ? hak_alloc_slow(size, site) : hak_memalign_impl(align, size, site);
}

/* The standard's loop: try, and while that fails, call the new-handler
 * (which frees memory, throws, or ends the program); without one, throw. */
static void *new_loop(size_t size, size_t align, const void *site)
{
    if (align != 0 && !pow2(align))
        throw_bad_alloc();
    for (;;) {
        void *p = alloc_any(size, align, site);
        if (p != NULL)
            return p;
        hak_new_handler_t h = new_handler();
        if (h == NULL)
            throw_bad_alloc();
        h();
    }
}

/* Tail-called by the operators, so that the return address is the
 * program's call site (as for malloc's slow path). */
HAK_NOINLINE static void *new_slow(size_t size)
{
    return new_loop(size, 0, __builtin_return_address(0));
}

HAK_NOINLINE static void *new_aligned(size_t size, size_t align)
{
    return new_loop(size, align, __builtin_return_address(0));
}

typedef void *(*hak_next_new_t)(size_t, const void *);
typedef void *(*hak_next_new_aligned_t)(size_t, size_t, const void *);

/* The nothrow forms: NULL where the others throw.  The first failure
 * without a handler is the common case and needs no C++ at all. */
static void *new_nothrow_slow(size_t size, size_t align, const void *nt, const char *next, const void *site)
{
    if (align != 0 && !pow2(align))
        return NULL;
    void *p = alloc_any(size, align, site);
    if (p != NULL || new_handler() == NULL)
        return p;
    void *f = dlsym(RTLD_NEXT, next);
    if (f != NULL)
        return align == 0 ? ((hak_next_new_t)f)(size, nt) : ((hak_next_new_aligned_t)f)(size, align, nt);
    /* no libstdc++ behind us (a static link): a throwing handler escapes */
    for (hak_new_handler_t h; (h = new_handler()) != NULL;) {
        h();
        if ((p = alloc_any(size, align, site)) != NULL)
            return p;
    }
    return NULL;
}

HAK_NOINLINE static void *new_nothrow(size_t size, const void *nt, const char *next)
{
    return new_nothrow_slow(size, 0, nt, next, __builtin_return_address(0));
}

HAK_NOINLINE static void *new_aligned_nothrow(size_t size, size_t align, const void *nt, const char *next)
{
    return new_nothrow_slow(size, align, nt, next, __builtin_return_address(0));
}

/* Sized delete of a tiny size: the class check rides on free's fast path. */
static inline void delete_sized(void *p, size_t size)
{
    if (likely(size <= HAK_TINY_MAX))
        hak_free_of_class(p, hak_tiny_sll_off[size], size);
    else
        hak_free_sized_slow(p, size);
}

/* An aligned block came from a class of its alignment or a large block:
 * its address is aligned and the size fits. */
static void delete_aligned_sized(void *p, size_t size, size_t align)
{
    if (p != NULL && (!pow2(align) || ((uintptr_t)p & (align - 1)) != 0 ||
                      size > hak_usable_impl(p, "operator delete(): invalid pointer")))
        hak_fatal("operator delete(): size or alignment does not match the block", p);
    hak_free_inline(p);
}

static inline void *new_fast(size_t size)
{
    void *p = hak_malloc_fast(size);
    if (likely(p != NULL))
        return p;
    return new_slow(size);
}

#define NOTHROW_FAST(size, nt, next) \
    void *p_ = hak_malloc_fast(size); \
    if (likely(p_ != NULL)) \
        return p_; \
    return new_nothrow(size, nt, next)

/* operator new / new[] (size_t), (size_t, nothrow_t const&) */
HAK_EXPORT void *_Znwm(size_t n) { return new_fast(n); }
HAK_EXPORT void *_Znam(size_t n) { return new_fast(n); }
HAK_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) { NOTHROW_FAST(n, nt, "_ZnwmRKSt9nothrow_t"); }
HAK_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) { NOTHROW_FAST(n, nt, "_ZnamRKSt9nothrow_t"); }

/* (size_t, align_val_t), (size_t, align_val_t, nothrow_t const&) */
HAK_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) { return new_aligned(n, al); }
HAK_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) { return new_aligned(n, al); }
HAK_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
    return new_aligned_nothrow(n, al, nt, "_ZnwmSt11align_val_tRKSt9nothrow_t");
}
HAK_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
    return new_aligned_nothrow(n, al, nt, "_ZnamSt11align_val_tRKSt9nothrow_t");
}

/* operator delete / delete[]: (void*), (void*, nothrow_t const&),
 * (void*, size_t), and the same with align_val_t */
HAK_EXPORT void _ZdlPv(void *p) { hak_free_inline(p); }
HAK_EXPORT void _ZdaPv(void *p) { hak_free_inline(p); }
HAK_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; hak_free_inline(p); }
HAK_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; hak_free_inline(p); }
HAK_EXPORT void _ZdlPvm(void *p, size_t n) { delete_sized(p, n); }
HAK_EXPORT void _ZdaPvm(void *p, size_t n) { delete_sized(p, n); }
HAK_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; hak_free_inline(p); }
HAK_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; hak_free_inline(p); }
HAK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
    (void)al;
    (void)nt;
    hak_free_inline(p);
}
HAK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
    (void)al;
    (void)nt;
    hak_free_inline(p);
}
HAK_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { delete_aligned_sized(p, n, al); }
HAK_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { delete_aligned_sized(p, n, al); }
