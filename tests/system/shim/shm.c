/*
 * shm.c - a program that shares memory with other processes by memfd and
 * POSIX shm (issue 15: "a program under pmnode run that shares memory
 * with another process ... does what it did without the shim").
 * shim-test.py runs it with and without the shim and compares the output.
 *
 *   shm-share              the whole scenario, as the parent:
 *     1. memfd_create + ftruncate + mmap MAP_SHARED, shm_open (a unique
 *        name, O_EXCL, mode 0600) + ftruncate + mmap MAP_SHARED; the
 *        descriptor numbers the program got are printed (the shim must not
 *        take any: a program may print them, or pass them by number).
 *     2. fork, no exec: the child acts as a daemon's worker does and closes
 *        every descriptor but its end of a socketpair, then receives the
 *        memfd by SCM_RIGHTS (it gets a low number again), maps it, reads
 *        what the parent wrote, answers in both shared mappings, and sends
 *        malloc'd messages large enough to make the heap grow (megabytes)
 *        back over the socket.
 *     3. fork + exec of this program ("shm-share exec SOCK NAME"): a fresh
 *        program (under the shim when the parent is) receives the memfd,
 *        opens the shm object by name, checks and answers in both, creates
 *        its own memfd and sends it back: the parent maps it and reads it.
 *     4. the memory policy each process runs with (the program's own:
 *        default) and the node of the shared pages, as get_mempolicy and
 *        move_pages say: under the shim the program's shared memory is
 *        placed as the program's policy says, not as the shim's heap is.
 *     5. shm_unlink, exit 0; any difference: a message on stderr, exit 1.
 *
 * Output is deterministic (no pids, names or addresses).  alarm() turns a
 * hang into a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARED (1u << 20)  /* bytes of each shared object */
#define BIG_MSG (6u << 20) /* a message that makes the heap grow */

static const char *who = "parent";
/* The shm object's name and its creator, for the atexit clean-up (a
 * failure must not leave the object in /dev/shm). */
static char shm_name[96];
static pid_t shm_owner;

static void unlink_shm(void)
{
    if (shm_owner == getpid() && shm_name[0] != '\0')
        shm_unlink(shm_name);
}

static void fail(const char *what)
{
    fprintf(stderr, "shm-share: %s: %s (errno %s)\n", who, what, strerror(errno));
    exit(1);
}

static unsigned char pat(unsigned seed, size_t i)
{
    return (unsigned char)(seed * 131u + (unsigned)(i * 7u) + (unsigned)(i >> 12));
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(seed, i);
}

static void check(const unsigned char *p, size_t n, unsigned seed, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != pat(seed, i)) {
            fprintf(stderr, "shm-share: %s: %s: byte %zu is %u, want %u\n", who, what, i, p[i],
                    pat(seed, i));
            exit(1);
        }
    }
}

static uint32_t sum(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;

    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

/* ---- the socket: descriptors and malloc'd messages ---- */

static void send_fd(int sock, int fd)
{
    char byte = 'F';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;

    memset(&u, 0, sizeof(u));
    m.msg_control = u.buf;
    m.msg_controllen = sizeof(u.buf);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    while (sendmsg(sock, &m, 0) < 0)
        if (errno != EINTR)
            fail("sendmsg");
}

static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    ssize_t n;
    int fd;

    m.msg_control = u.buf;
    m.msg_controllen = sizeof(u.buf);
    while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR)
            fail("recvmsg");
    c = CMSG_FIRSTHDR(&m);
    if (n != 1 || byte != 'F' || c == NULL || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        fail("no descriptor in the message");
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("write");
        c += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, void *p, size_t n)
{
    char *c = p;

    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fail("read (peer gone)");
        c += r;
        n -= (size_t)r;
    }
}

/* A message: its length, then its bytes, from a malloc'd buffer. */
static void send_msg(int sock, size_t n, unsigned seed)
{
    unsigned char *buf = malloc(n);
    uint64_t len = n;

    if (buf == NULL)
        fail("malloc of a message");
    fill(buf, n, seed);
    write_all(sock, &len, sizeof(len));
    write_all(sock, buf, n);
    free(buf);
}

/* Receive a message into a malloc'd buffer and check it. */
static size_t recv_msg(int sock, unsigned seed)
{
    uint64_t len;
    unsigned char *buf;

    read_all(sock, &len, sizeof(len));
    if (len > (64u << 20))
        fail("message too long");
    if ((buf = malloc(len)) == NULL)
        fail("malloc of a received message");
    read_all(sock, buf, len);
    check(buf, len, seed, "message");
    free(buf);
    return len;
}

static unsigned char *map_fd(int fd, size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (p == MAP_FAILED)
        fail("mmap MAP_SHARED");
    return p;
}

/* ---- where the shared pages are, and the policy they follow ---- */

static const char *policy_name(void)
{
    static const char *const names[] = {"default", "preferred", "bind", "interleave", "local"};
    int mode = -1;

    if (syscall(SYS_get_mempolicy, &mode, NULL, 0UL, NULL, 0UL) != 0)
        return "unknown (get_mempolicy failed)";
    mode &= 0xff;
    return mode >= 0 && mode < 5 ? names[mode] : "other";
}

static int page_node(void *p)
{
    void *pages[1] = {p};
    int status[1] = {-1};

    if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0) != 0)
        return -1000 - errno;
    return status[0];
}

static void report(const char *what, unsigned char *p)
{
    printf("%s: %s policy %s, first page on node %d\n", who, what, policy_name(), page_node(p));
}

/* ---- the children ---- */

static int wait_child(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail("waitpid");
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "shm-share: child killed by signal %d\n", WTERMSIG(st));
        exit(1);
    }
    return WEXITSTATUS(st);
}

/* The forked worker: closes everything but @sock, as daemons do. */
static void worker(int sock, unsigned char *shm)
{
    unsigned char *mem;
    size_t got = 0;
    int fd;

    who = "worker";
    for (int f = 3; f < 1024; f++)
        if (f != sock)
            close(f);
    fd = recv_fd(sock);
    printf("worker: received the memfd as descriptor %d\n", fd);
    mem = map_fd(fd, SHARED);
    check(mem, SHARED, 1, "memfd from the parent");
    check(shm, SHARED, 2, "shm from the parent");
    fill(mem, SHARED, 3);
    fill(shm, SHARED, 4);
    report("memfd", mem);
    /* messages the heap must grow for, after the descriptors were closed */
    for (unsigned i = 0; i < 4; i++)
        send_msg(sock, BIG_MSG + i * 4096u, 10 + i);
    for (unsigned i = 0; i < 4; i++)
        got += recv_msg(sock, 20 + i);
    printf("worker: received %zu bytes in 4 messages\n", got);
    fflush(stdout);
    munmap(mem, SHARED);
    exit(0);
}

/* The exec'd program: "shm-share exec SOCK NAME". */
static int exec_child(int sock, const char *name)
{
    unsigned char *mem, *shm, *own;
    int fd, sfd, ofd;

    who = "exec child";
    fd = recv_fd(sock);
    mem = map_fd(fd, SHARED);
    if ((sfd = shm_open(name, O_RDWR, 0)) < 0)
        fail("shm_open of the parent's object");
    shm = map_fd(sfd, SHARED);
    printf("exec child: memfd descriptor %d, shm descriptor %d\n", fd, sfd);
    check(mem, SHARED, 5, "memfd from the parent");
    check(shm, SHARED, 6, "shm from the parent");
    fill(mem, SHARED, 7);
    fill(shm, SHARED, 8);
    report("shm", shm);
    if ((ofd = memfd_create("shm-share-child", MFD_CLOEXEC)) < 0 || ftruncate(ofd, SHARED) != 0)
        fail("memfd_create of its own");
    own = map_fd(ofd, SHARED);
    fill(own, SHARED, 9);
    send_fd(sock, ofd);
    for (unsigned i = 0; i < 3; i++)
        send_msg(sock, (1u << 20) * (i + 1) + 17, 30 + i);
    recv_msg(sock, 40);
    printf("exec child: own memfd sent, checksum %08x\n", (unsigned)sum(own, SHARED));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    char *name = shm_name, sockarg[16];
    unsigned char *mem, *shm, *back;
    int mfd, sfd, sv[2], bfd;
    size_t got = 0;
    pid_t pid;

    alarm(120);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "exec") == 0)
        return exec_child(atoi(argv[2]), argv[3]);
    if (argc != 1) {
        fprintf(stderr, "usage: shm-share\n");
        return 2;
    }

    /* 1. the shared objects */
    if ((mfd = memfd_create("shm-share", MFD_CLOEXEC)) < 0 || ftruncate(mfd, SHARED) != 0)
        fail("memfd_create");
    snprintf(name, sizeof(shm_name), "/pmnode-shim-shm-%d-%ld", (int)getpid(), (long)time(NULL));
    if ((sfd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
        fail("shm_open O_EXCL");
    shm_owner = getpid();
    atexit(unlink_shm);
    if (ftruncate(sfd, SHARED) != 0)
        fail("ftruncate of the shm object");
    printf("parent: memfd descriptor %d, shm descriptor %d\n", mfd, sfd);
    mem = map_fd(mfd, SHARED);
    shm = map_fd(sfd, SHARED);

    /* 2. fork, no exec */
    fill(mem, SHARED, 1);
    fill(shm, SHARED, 2);
    report("shm", shm);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        fail("socketpair");
    fflush(stdout);
    if ((pid = fork()) < 0)
        fail("fork");
    if (pid == 0) {
        close(sv[0]);
        worker(sv[1], shm);
    }
    close(sv[1]);
    send_fd(sv[0], mfd);
    for (unsigned i = 0; i < 4; i++)
        got += recv_msg(sv[0], 10 + i);
    for (unsigned i = 0; i < 4; i++)
        send_msg(sv[0], (2u << 20) + i, 20 + i);
    if (wait_child(pid) != 0)
        fail("the worker failed");
    check(mem, SHARED, 3, "memfd after the worker");
    check(shm, SHARED, 4, "shm after the worker");
    printf("parent: worker answered in both objects, %zu bytes in 4 messages\n", got);
    close(sv[0]);

    /* 3. fork + exec of this program */
    fill(mem, SHARED, 5);
    fill(shm, SHARED, 6);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        fail("socketpair");
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    snprintf(sockarg, sizeof(sockarg), "%d", sv[1]);
    fflush(stdout);
    if ((pid = fork()) < 0)
        fail("fork");
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "exec", sockarg, name, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    send_fd(sv[0], mfd);
    bfd = recv_fd(sv[0]);
    got = 0;
    for (unsigned i = 0; i < 3; i++)
        got += recv_msg(sv[0], 30 + i);
    send_msg(sv[0], 12345, 40);
    if (wait_child(pid) != 0)
        fail("the exec'd child failed");
    check(mem, SHARED, 7, "memfd after the exec'd child");
    check(shm, SHARED, 8, "shm after the exec'd child");
    back = map_fd(bfd, SHARED);
    check(back, SHARED, 9, "the exec'd child's memfd");
    printf("parent: exec'd child answered, its memfd received (checksum %08x), %zu bytes in 3 "
           "messages\n",
           (unsigned)sum(back, SHARED), got);
    report("memfd", mem);

    /* 5. clean up */
    munmap(back, SHARED);
    munmap(mem, SHARED);
    munmap(shm, SHARED);
    close(bfd);
    close(mfd);
    close(sfd);
    close(sv[0]);
    if (shm_unlink(name) != 0)
        fail("shm_unlink");
    name[0] = '\0';
    printf("parent: done\n");
    return 0;
}
