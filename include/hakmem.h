/* hakmem — a general-purpose memory allocator.
 *
 * The prefixed API below is what libhakmem exports (link with
 * `pkg-config --libs hakmem`).  The same functions are also exported by the
 * malloc interposer, libhakmem-malloc, beside the standard names (malloc,
 * free, ...), so that a program linked with -lhakmem and run under
 * LD_PRELOAD=libhakmem-malloc.so uses one allocator, not two.
 *
 * Semantics follow glibc's: hak_malloc(0) returns a unique pointer, failures
 * return NULL with errno set to ENOMEM (EINVAL for bad alignments), and
 * misuse (freeing a pointer hakmem does not own, double free, corrupted
 * free lists) ends the process with a one-line "hakmem: ..." diagnostic.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0

#if defined(__GNUC__)
#define HAK_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define HAK_MALLOC_ATTR
#endif

void *hak_malloc(size_t size) HAK_MALLOC_ATTR;
void  hak_free(void *ptr);
void *hak_calloc(size_t nmemb, size_t size) HAK_MALLOC_ATTR;
void *hak_realloc(void *ptr, size_t size);
void *hak_reallocarray(void *ptr, size_t nmemb, size_t size);
void *hak_aligned_alloc(size_t alignment, size_t size) HAK_MALLOC_ATTR;
int   hak_posix_memalign(void **memptr, size_t alignment, size_t size);
void *hak_memalign(size_t alignment, size_t size) HAK_MALLOC_ATTR;
size_t hak_malloc_usable_size(void *ptr);

/* Call-site aware variants: `site` labels the purpose of a block (the
 * return address of malloc's caller is what the interposer passes).  Large
 * blocks are cached per site; for small blocks the site is ignored. */
void *hak_alloc_at(size_t size, const void *site) HAK_MALLOC_ATTR;
void  hak_free_at(void *ptr, const void *site);

/* Writes the statistics report (the same as HAKMEM_STATS=1 prints at exit)
 * to file descriptor `fd`. */
void  hak_stats_print(int fd);

/* "0.1.0" */
const char *hak_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */
