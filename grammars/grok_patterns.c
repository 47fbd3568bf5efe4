/*
 * grok_patterns.c - the pattern library: "NAME regex" definitions read from
 * pattern files (the Logstash format), directories of them, the files shipped
 * in grammars/ (compiled into the binary) and inline definitions. A name
 * defined again replaces the earlier definition, so a user's directory loaded
 * after ours overrides what we ship.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Generated at build time from grammars/ *.grok (see CMakeLists.txt). */
struct grok_builtin_file {
    const char *name;
    const char *text;
    size_t len;
};
extern const struct grok_builtin_file lf_grok_builtin_files[];
extern const size_t lf_grok_builtin_count;

#define MAX_PATTERN_FILE (16u << 20)

struct lf_grok_lib *lf_grok_lib_create(void)
{
    return calloc(1, sizeof(struct lf_grok_lib));
}

void lf_grok_lib_destroy(struct lf_grok_lib *lib)
{
    if (!lib)
        return;
    for (size_t i = 0; i < lib->ndefs; i++) {
        free(lib->defs[i].name);
        free(lib->defs[i].regex);
    }
    for (size_t i = 0; i < lib->nfiles; i++)
        free(lib->files[i]);
    free(lib->defs);
    free(lib->files);
    free(lib);
}

size_t lf_grok_lib_count(const struct lf_grok_lib *lib)
{
    return lib->ndefs;
}

const struct grok_def *grok_lib_find(const struct lf_grok_lib *lib, const char *name, size_t len)
{
    for (size_t i = 0; i < lib->ndefs; i++)
        if (strncmp(lib->defs[i].name, name, len) == 0 && lib->defs[i].name[len] == '\0')
            return &lib->defs[i];
    return NULL;
}

const char *lf_grok_lib_name(const struct lf_grok_lib *lib, size_t i)
{
    return i < lib->ndefs ? lib->defs[i].name : NULL;
}

const char *lf_grok_lib_lookup(const struct lf_grok_lib *lib, const char *name)
{
    const struct grok_def *d = grok_lib_find(lib, name, strlen(name));
    return d ? d->regex : NULL;
}

static const char *intern_file(struct lf_grok_lib *lib, const char *file)
{
    if (lib->nfiles && strcmp(lib->files[lib->nfiles - 1], file) == 0)
        return lib->files[lib->nfiles - 1];
    char **files = realloc(lib->files, (lib->nfiles + 1) * sizeof(*files));
    if (!files)
        return NULL;
    lib->files = files;
    if (!(files[lib->nfiles] = strdup(file)))
        return NULL;
    return files[lib->nfiles++];
}

static int is_name_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Adds or replaces one definition; `file` must already be interned. */
static int define(struct lf_grok_lib *lib, const char *name, size_t name_len, const char *regex,
                  size_t regex_len, const char *file, unsigned line, unsigned column)
{
    char *r = strndup(regex, regex_len);
    if (!r)
        return LF_ENOMEM;
    struct grok_def *d = (struct grok_def *)grok_lib_find(lib, name, name_len);
    if (!d) {
        if (lib->ndefs == lib->cap) {
            size_t cap = lib->cap ? lib->cap * 2 : 256;
            struct grok_def *defs = realloc(lib->defs, cap * sizeof(*defs));
            if (!defs) {
                free(r);
                return LF_ENOMEM;
            }
            lib->defs = defs;
            lib->cap = cap;
        }
        d = &lib->defs[lib->ndefs];
        if (!(d->name = strndup(name, name_len))) {
            free(r);
            return LF_ENOMEM;
        }
        lib->ndefs++;
    } else {
        free(d->regex);
    }
    d->regex = r;
    d->file = file;
    d->line = line;
    d->column = column;
    return 0;
}

int lf_grok_lib_load_text(struct lf_grok_lib *lib, const char *origin, const char *text, size_t len,
                          char *errbuf, size_t errlen)
{
    const char *file = intern_file(lib, origin);
    if (!file) {
        snprintf(errbuf, errlen, "%s: out of memory", origin);
        return LF_ENOMEM;
    }
    unsigned lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *line = p;
        p = nl ? nl + 1 : end;
        lineno++;
        if (eol > line && eol[-1] == '\r')
            eol--;
        const char *s = line;
        while (s < eol && (*s == ' ' || *s == '\t'))
            s++;
        if (s == eol || *s == '#')
            continue;
        const char *name = s;
        while (s < eol && *s != ' ' && *s != '\t') {
            if (!is_name_char((unsigned char)*s)) {
                snprintf(errbuf, errlen,
                         "%s:%u:%u: invalid character '%c' in pattern name (expected letters, "
                         "digits and '_', then whitespace and the regex)",
                         origin, lineno, (unsigned)(s - line + 1), *s);
                return LF_ESYNTAX;
            }
            s++;
        }
        size_t name_len = (size_t)(s - name);
        while (s < eol && (*s == ' ' || *s == '\t'))
            s++;
        if (s == eol) {
            snprintf(errbuf, errlen, "%s:%u:%u: pattern %.*s has no regex after its name", origin,
                     lineno, (unsigned)(s - line + 1), (int)name_len, name);
            return LF_ESYNTAX;
        }
        if (memchr(s, '\0', (size_t)(eol - s))) {
            snprintf(errbuf, errlen, "%s:%u: NUL byte in pattern %.*s", origin, lineno,
                     (int)name_len, name);
            return LF_ESYNTAX;
        }
        int rc = define(lib, name, name_len, s, (size_t)(eol - s), file, lineno,
                        (unsigned)(s - line + 1));
        if (rc) {
            snprintf(errbuf, errlen, "%s:%u: %s", origin, lineno, lf_strerror(rc));
            return rc;
        }
    }
    return 0;
}

int lf_grok_lib_define(struct lf_grok_lib *lib, const char *name, const char *regex, char *errbuf,
                       size_t errlen)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char((unsigned char)name[i])) {
            snprintf(errbuf, errlen,
                     "inline pattern '%s': invalid name (expected letters, digits and '_')", name);
            return LF_ESYNTAX;
        }
    }
    if (n == 0 || !*regex) {
        snprintf(errbuf, errlen, "inline pattern '%s': empty %s", name, n ? "regex" : "name");
        return LF_ESYNTAX;
    }
    const char *file = intern_file(lib, "(inline)");
    if (!file || define(lib, name, n, regex, strlen(regex), file, 0, 1)) {
        snprintf(errbuf, errlen, "inline pattern '%s': out of memory", name);
        return LF_ENOMEM;
    }
    return 0;
}

int lf_grok_lib_load_file(struct lf_grok_lib *lib, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errbuf, errlen, "cannot open pattern file %s: %s", path, strerror(errno));
        return errno == ENOENT ? LF_ENOENT : LF_EIO;
    }
    struct lf_buf b;
    lf_buf_init(&b, MAX_PATTERN_FILE);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = lf_buf_append(&b, chunk, n);
    if (!rc && ferror(f)) {
        snprintf(errbuf, errlen, "cannot read pattern file %s: %s", path, strerror(errno));
        rc = LF_EIO;
    } else if (rc) {
        snprintf(errbuf, errlen, "pattern file %s: %s (over %u bytes?)", path, lf_strerror(rc),
                 MAX_PATTERN_FILE);
    } else {
        rc = lf_grok_lib_load_text(lib, path, b.data ? b.data : "", b.len, errbuf, errlen);
    }
    fclose(f);
    lf_buf_free(&b);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int lf_grok_lib_load_dir(struct lf_grok_lib *lib, const char *dir, char *errbuf, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errbuf, errlen, "cannot open pattern directory %s: %s", dir, strerror(errno));
        return errno == ENOENT ? LF_ENOENT : LF_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || e->d_name[len - 1] == '~')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                rc = LF_ENOMEM;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = LF_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc)
        snprintf(errbuf, errlen, "pattern directory %s: out of memory", dir);
    else if (n) /* an empty directory has no array: qsort wants one */
        qsort(names, n, sizeof(*names), compare_names);

    for (size_t i = 0; i < n && !rc; i++) {
        char path[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
            snprintf(errbuf, errlen, "pattern directory %s: path too long", dir);
            rc = LF_EINVAL;
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = lf_grok_lib_load_file(lib, path, errbuf, errlen);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int lf_grok_lib_load_builtin(struct lf_grok_lib *lib, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < lf_grok_builtin_count; i++) {
        const struct grok_builtin_file *f = &lf_grok_builtin_files[i];
        int rc = lf_grok_lib_load_text(lib, f->name, f->text, f->len, errbuf, errlen);
        if (rc)
            return rc;
    }
    return 0;
}
