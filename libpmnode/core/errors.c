/*
 * errors.c - error codes, names of enums, version.
 *
 * The library's own codes are written once in PMN_ERROR_MAP (pmnode.h) and
 * expanded here into the message and name tables.  errno values are named
 * through glibc's strerrordesc_np()/strerrorname_np(), which return static
 * strings: nothing here allocates, so pmn_strerror() is safe anywhere,
 * signal handlers included.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "pmn-config.h"

const char *pmn_version(void)
{
    return PMN_VERSION;
}

static const char *lib_message(int err)
{
    switch (err) {
#define PMN__ERR_MSG(name, n, msg) \
    case PMN_E_##name: return msg;
        PMN_ERROR_MAP(PMN__ERR_MSG)
#undef PMN__ERR_MSG
    default: return NULL;
    }
}

static const char *lib_name(int err)
{
    switch (err) {
#define PMN__ERR_NAME(name, n, msg) \
    case PMN_E_##name: return "PMN_E_" #name;
        PMN_ERROR_MAP(PMN__ERR_NAME)
#undef PMN__ERR_NAME
    default: return NULL;
    }
}

/* A code's text: the library's own table, else glibc's for an errno (either
 * sign), else @none. */
static const char *describe(int err, const char *(*lib)(int), const char *(*sys)(int),
                            const char *none)
{
    const char *s = lib(err);

    if (s != NULL)
        return s;
    if (err < 0 && err > -PMN_ERRNO_BASE)
        err = -err;
    if (err > 0 && err < PMN_ERRNO_BASE && (s = sys(err)) != NULL)
        return s;
    return none;
}

_Thread_local int pmn__last_err;

int pmn_last_error(void)
{
    return pmn__last_err;
}

const char *pmn_strerror(int err)
{
    return err == 0 ? "success" : describe(err, lib_message, strerrordesc_np, "unknown error");
}

const char *pmn_err_name(int err)
{
    return err == 0 ? "OK" : describe(err, lib_name, strerrorname_np, "unknown");
}

static const char *const kind_names[PMN_KIND__COUNT] = {
    [PMN_KIND_UNKNOWN] = "unknown", [PMN_KIND_DRAM] = "dram",
    [PMN_KIND_HBM] = "hbm",         [PMN_KIND_NVM] = "nvm",
    [PMN_KIND_SPM] = "spm",         [PMN_KIND_CXL] = "cxl",
    [PMN_KIND_GPU] = "gpu",         [PMN_KIND_COMPRESSED] = "compressed",
};

const char *pmn_kind_name(enum pmn_kind kind)
{
    if ((unsigned)kind >= PMN_KIND__COUNT)
        return "unknown";
    return kind_names[kind];
}

int pmn_kind_parse(const char *name, enum pmn_kind *out)
{
    if (name == NULL || out == NULL)
        return -EINVAL;
    for (unsigned k = 0; k < PMN_KIND__COUNT; k++) {
        if (strcasecmp(name, kind_names[k]) == 0) {
            *out = (enum pmn_kind)k;
            return 0;
        }
    }
    return -EINVAL;
}

const char *pmn_isolation_name(enum pmn_isolation iso)
{
    return iso == PMN_ISOLATION_KERNEL   ? "kernel"
           : iso == PMN_ISOLATION_CONFIG ? "config"
                                         : "none";
}
