/*
 * glibc-simple.c - one thread, fixed-size batches, in the style of glibc's
 * bench-malloc-simple.
 *
 * For each of the sizes 16, 32, 64, 128, 256 and 512 bytes and
 * each batch length 25, 100, 400 and 1600, the program allocates a batch
 * of that many blocks of that size, writes a tag in each, then frees them
 * all (in allocation order for even rounds, in reverse for odd ones), and
 * does this ROUNDS times.  No block outlives its batch, so the heap stays
 * tiny: what this measures is the fast path of malloc and free and the
 * fixed cost an allocator adds to a small program (its peak RSS is the one
 * the "small program's fixed overhead" goal reads).
 *
 * The checksum sums every tag read back before the free.
 */
#include "workload.h"

enum { MAX_BATCH = 1600 };

static const size_t sizes[] = {16, 32, 64, 128, 256, 512};
static const unsigned batches[] = {25, 100, 400, 1600};

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "glibc bench-malloc-simple style: batches of fixed-size blocks, "
                          "allocated then freed, one thread.\n");
    static void *obj[MAX_BATCH];
    uint64_t rounds = wl_scaled(1500, scale), sum = 0, tag = 0x51e;

    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
                unsigned count = batches[b];
                for (unsigned i = 0; i < count; i++) {
                    obj[i] = wl_malloc(n);
                    wl_tag_set(obj[i], n, tag++);
                }
                if (r & 1) {
                    for (unsigned i = count; i-- > 0;) {
                        sum += wl_tag_check(obj[i], n, "glibc-simple");
                        free(obj[i]);
                    }
                } else {
                    for (unsigned i = 0; i < count; i++) {
                        sum += wl_tag_check(obj[i], n, "glibc-simple");
                        free(obj[i]);
                    }
                }
            }
        }
    }
    wl_checksum("glibc-simple", sum);
    return 0;
}
