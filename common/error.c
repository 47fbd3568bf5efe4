/*
 * error.c - the one place that turns an lf_err value into words.
 */
#include "lf.h"

const char *lf_strerror(int err)
{
    switch (err) {
    case LF_OK:
        return "success";
    case LF_ENOMEM:
        return "out of memory";
    case LF_EINVAL:
        return "invalid argument";
    case LF_EIO:
        return "input/output error";
    case LF_ENOENT:
        return "not found";
    case LF_ELIMIT:
        return "limit reached";
    case LF_ESYNTAX:
        return "syntax error";
    case LF_ECYCLE:
        return "reference cycle";
    case LF_ENOMATCH:
        return "no match";
    case LF_ECONFLICT:
        return "field is both a value and an object";
    }
    return "unknown error";
}
