/*
 * place/ipc.c - sharing memory with other processes (stubs until the
 * implementation lands).
 */
#include <errno.h>

#include "place/backing.h"

int pmn_backing_params_set_shareable(struct pmn_backing_params *p, bool on)
{
    (void)p, (void)on;
    return -ENOSYS;
}
int pmn_backing_params_set_ipc_table_size(struct pmn_backing_params *p, size_t bytes)
{
    (void)p, (void)bytes;
    return -ENOSYS;
}
bool pmn_backing_shareable(const struct pmn_backing *b)
{
    (void)b;
    return false;
}
uint64_t pmn_region_offset(const struct pmn_region *r)
{
    (void)r;
    return 0;
}
int pmn_ipc_get(const void *p, struct pmn_ipc_handle *h, int *fd)
{
    (void)p, (void)h, (void)fd;
    return -ENOSYS;
}
int pmn_ipc_get_region(const struct pmn_region *r, struct pmn_ipc_handle *h, int *fd)
{
    (void)r, (void)h, (void)fd;
    return -ENOSYS;
}
int pmn_ipc_cache_new(struct pmn_ipc_cache **out)
{
    (void)out;
    return -ENOSYS;
}
void pmn_ipc_cache_free(struct pmn_ipc_cache *c)
{
    (void)c;
}
int pmn_ipc_open(struct pmn_ipc_cache *c, const struct pmn_ipc_handle *h, int fd, unsigned flags,
                 void **addr)
{
    (void)c, (void)h, (void)fd, (void)flags, (void)addr;
    return -ENOSYS;
}
int pmn_ipc_close(struct pmn_ipc_cache *c, void *addr)
{
    (void)c, (void)addr;
    return -ENOSYS;
}
int pmn_ipc_valid(struct pmn_ipc_cache *c, const void *addr)
{
    (void)c, (void)addr;
    return -ENOSYS;
}
int pmn_ipc_cache_stats(struct pmn_ipc_cache *c, struct pmn_ipc_cache_stats *out)
{
    (void)c, (void)out;
    return -ENOSYS;
}
int pmn_ipc_send(int sock, const struct pmn_ipc_handle *h, int fd)
{
    (void)sock, (void)h, (void)fd;
    return -ENOSYS;
}
int pmn_ipc_recv(int sock, struct pmn_ipc_handle *h, int *fd)
{
    (void)sock, (void)h, (void)fd;
    return -ENOSYS;
}
