#!/usr/bin/env python3
"""shim-test.py - system tests of the LD_PRELOAD shim and `pmnode run` (issue 6).

usage: shim-test.py --pmnode PATH --bindir DIR [--preload LIB] [--fixtures DIR] CASE

One CASE per meson test (tests/system/shim/meson.build), so a failure names what
broke.  Exit 0 pass, 1 fail, 77 skip (a program or the shim is missing;
the reason is printed).  Never passes without having run what it checks.

The comparison cases run a real program twice, as is and under
    pmnode run --node 0 --threshold 0 --stats=FILE -- PROG ARGS...
and require the same exit status and byte-identical stdout and stderr (the
shim must be invisible except for where memory lives), then read the stats
file: calls.malloc > 0, peak_bytes > 0 and bytes_per_node {"0": > 0} prove
the shim served the heap on node 0.  Each run gets its own directory of
the same shape, so paths in the output are the same.
"""
import argparse
import difflib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77
ARGS = None
TMP = None
CASES = {}

# The stats object of the shim's contract, in order.
STATS_KEYS = ["pid", "target", "threshold", "calls", "pmnode_bytes", "peak_bytes",
              "populated_bytes", "active_bytes", "bytes_per_node", "libc_calls",
              "foreign_frees"]
CALL_KEYS = ["malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc",
             "memalign", "valloc", "pvalloc", "reallocarray", "malloc_usable_size"]


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def log(*a):
    print(*a, flush=True)


def need(prog):
    path = shutil.which(prog)
    if path is None:
        raise Skip("%s not found on this host" % prog)
    return path


def preload_lib():
    lib = ARGS.preload
    if not lib:
        lib = os.path.join(os.path.dirname(os.path.abspath(ARGS.pmnode)), os.pardir,
                           "libpmnode", "preload", "libpmnode-preload.so")
    lib = os.path.realpath(lib)
    if not os.path.exists(lib):
        raise Skip("the shim is not built (%s missing)" % lib)
    return lib


def base_env(**extra):
    """The caller's environment without anything that would change the shim
    or the programs' output; then @extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PMNODE_") and k not in ("LD_PRELOAD", "MALLOC_PERTURB_",
                                                         "MALLOC_CHECK_")}
    env.update(LC_ALL="C", LANG="C", TZ="UTC", PYTHONHASHSEED="0", PERL_HASH_SEED="0",
               PERL_PERTURB_KEYS="0")
    env.update(extra)
    return env


def run(argv, cwd=None, env=None, timeout=600, stdin=None):
    p = subprocess.run(argv, cwd=cwd, env=env if env is not None else base_env(),
                       stdin=stdin if stdin is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def show(label, rc, out, err, limit=15):
    log("%s: exit %s, %d bytes stdout, %d bytes stderr" % (label, rc, len(out), len(err)))
    for line in err.decode(errors="replace").splitlines()[:limit]:
        log("  err: " + line)


def diff(a, b, what):
    al = a.decode(errors="replace").splitlines()
    bl = b.decode(errors="replace").splitlines()
    d = list(difflib.unified_diff(al, bl, "without shim", "with shim", lineterm="", n=1))
    for line in d[:40]:
        log("  " + line)
    if len(d) > 40:
        log("  ... (%d more diff lines)" % (len(d) - 40))
    raise Fail("%s differs with the shim" % what)


def pmnode_run(argv, target=("--node", "0"), threshold=0, stats=None, extra=()):
    cmd = [ARGS.pmnode, "run", *target, "--threshold", str(threshold)]
    if stats is not None:
        cmd.append("--stats=" + stats)
    return cmd + list(extra) + ["--"] + list(argv)


def check_stats(path, threshold=0, target="node=0", node="0", min_malloc=1):
    """Check one stats file against the contract; with min_malloc=0 only its
    shape (a process that allocated nothing may have placed nothing)."""
    if not os.path.exists(path):
        raise Fail("the shim wrote no stats file %s" % path)
    raw = open(path, encoding="utf-8").read()
    if min_malloc > 0:
        log("stats: " + raw.strip())
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise Fail("stats file is not one JSON object: %s" % e)
    if not isinstance(doc, dict):
        raise Fail("stats is not a JSON object")
    missing = [k for k in STATS_KEYS if k not in doc]
    if missing:
        raise Fail("stats lacks %s" % missing)
    order = [k for k in doc if k in STATS_KEYS]
    if order != STATS_KEYS:
        raise Fail("stats keys out of the contract's order: %s" % list(doc))

    def count(v, what):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise Fail("stats %s is %r, not a count" % (what, v))
        return v

    count(doc["pid"], "pid")
    if doc["target"] != target:
        raise Fail("stats target %r, want %r" % (doc["target"], target))
    if count(doc["threshold"], "threshold") != threshold:
        raise Fail("stats threshold %r, want %d" % (doc["threshold"], threshold))
    calls = doc["calls"]
    if not isinstance(calls, dict) or [k for k in CALL_KEYS if k not in calls]:
        raise Fail("stats calls %r lacks some of %s" % (calls, CALL_KEYS))
    for k in CALL_KEYS:
        count(calls[k], "calls." + k)
    if calls["malloc"] < min_malloc:
        raise Fail("stats calls.malloc is %d: the shim did not serve malloc" % calls["malloc"])
    cur = count(doc["pmnode_bytes"], "pmnode_bytes")
    peak = count(doc["peak_bytes"], "peak_bytes")
    count(doc["libc_calls"], "libc_calls")
    count(doc["foreign_frees"], "foreign_frees")
    per = doc["bytes_per_node"]
    if not isinstance(per, dict) or not set(per) <= {node}:
        raise Fail("stats bytes_per_node %r: bytes on a node other than %s" % (per, node))
    if min_malloc == 0:
        return doc
    if peak == 0:
        raise Fail("stats peak_bytes is 0: nothing was placed by libpmnode")
    if peak < cur:
        raise Fail("stats peak_bytes %d < pmnode_bytes %d" % (peak, cur))
    per = doc["bytes_per_node"]
    if not isinstance(per, dict) or set(per) != {node}:
        raise Fail("stats bytes_per_node %r: want bytes on node %s only" % (per, node))
    if count(per[node], "bytes_per_node." + node) == 0:
        raise Fail("stats bytes_per_node.%s is 0" % node)
    return doc


def compare(name, argv, setup=None, env=None, threshold=0, stats_checks=None, timeout=600,
            files=()):
    """Run @argv in TMP/plain/ and, under the shim, in TMP/shim/ (each made
    by @setup(dir) first); compare status, stdout, stderr and the @files
    the runs leave behind; check the stats.  Returns the stats."""
    preload_lib()
    dirs = {}
    for side in ("plain", "shim"):
        d = os.path.join(TMP, name, side)
        os.makedirs(d)
        if setup is not None:
            setup(d)
        dirs[side] = d
    sdir = os.path.join(TMP, name, "stats")
    os.makedirs(sdir)
    stats = os.path.join(sdir, "%p.json")  # one file per process
    log("$ " + " ".join(argv))
    a = run(argv, cwd=dirs["plain"], env=env, timeout=timeout)
    show("without shim", *a)
    b = run(pmnode_run(argv, threshold=threshold, stats=stats), cwd=dirs["shim"], env=env,
            timeout=timeout)
    show("with shim   ", *b)
    if a[0] != b[0]:
        raise Fail("exit status %s without the shim, %s with it" % (a[0], b[0]))
    if a[1] != b[1]:
        diff(a[1], b[1], "stdout")
    if a[2] != b[2]:
        diff(a[2], b[2], "stderr")
    for f in files:
        fa = open(os.path.join(dirs["plain"], f), "rb").read()
        fb = open(os.path.join(dirs["shim"], f), "rb").read()
        if fa != fb:
            raise Fail("%s differs with the shim (%d vs %d bytes)" % (f, len(fa), len(fb)))
        log("%s: identical (%d bytes)" % (f, len(fa)))
    if a[0] != 0:
        raise Fail("the program failed (exit %s) even without the shim" % a[0])
    # Every process that exited through exit() wrote its stats (one that
    # ends with _exit(), as dash does, writes none): all must be well-formed
    # and on node 0; those that called malloc must show memory placed there.
    files = sorted(os.listdir(sdir))
    log("stats from %d process%s" % (len(files), "" if len(files) == 1 else "es"))
    if not files:
        raise Fail("the shim wrote no stats file (stats=%s)" % stats)
    docs = [check_stats(os.path.join(sdir, f), threshold=threshold, min_malloc=0)
            for f in files]
    for f, d in zip(files, docs):
        if f != "%d.json" % d["pid"]:
            raise Fail("%s holds the stats of pid %s" % (f, d["pid"]))
    busy = [f for f, d in zip(files, docs) if d["calls"]["malloc"] > 0]
    if not busy:
        raise Fail("no process's stats show calls.malloc > 0: the shim served nothing")
    for f in busy:
        check_stats(os.path.join(sdir, f), threshold=threshold)
    doc = max(docs, key=lambda d: d["calls"]["malloc"])
    if stats_checks is not None:
        stats_checks(doc)
    return doc


def shim_expect(prog, want, label="with shim", env=None, stats=None, timeout=90):
    """Run @prog under the shim: it must exit 0 with stdout @want and no
    stderr.  The signal cases' check (their programs print one line)."""
    rc, out, err = run(pmnode_run(prog, stats=stats), env=env, timeout=timeout)
    show(label, rc, out, err)
    if rc != 0 or out != want or err:
        raise Fail("under the shim: exit %s, stdout %r, stderr %r" % (rc, out, err))


def helper(name):
    path = os.path.join(ARGS.bindir, name)
    if not os.path.exists(path):
        raise Skip("%s was not built" % path)
    return path


# ---- real programs ---------------------------------------------------------

@case("python")
def t_python():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heavy.py")
    python = ARGS.python or sys.executable
    compare("python", [python, script])


GCC_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; unsigned long v; char name[24]; };

static int cmp(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    struct node *head = NULL;
    unsigned long *v = malloc(100000 * sizeof(*v)), sum = 0, seed = 42;
    for (int i = 0; i < 100000; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        v[i] = seed >> 20;
        struct node *n = malloc(sizeof(*n));
        n->v = v[i];
        snprintf(n->name, sizeof(n->name), "n%d", i);
        n->next = head;
        head = n;
    }
    qsort(v, 100000, sizeof(*v), cmp);
    for (struct node *n = head; n != NULL;) {
        struct node *next = n->next;
        sum += n->v ^ strlen(n->name);
        free(n);
        n = next;
    }
    printf("min %lu max %lu sum %lu\n", v[0], v[99999], sum);
    free(v);
    return 0;
}
"""


@case("gcc")
def t_gcc():
    need("gcc")

    def setup(d):
        with open(os.path.join(d, "prog.c"), "w") as f:
            f.write(GCC_SOURCE)
    # compile (driver, cc1, as), link (collect2, ld), run the result: all
    # under the shim; the object and the executable must be identical
    compare("gcc", ["sh", "-c",
                    "gcc -O2 -Wall -c prog.c -o prog.o && gcc prog.o -o prog && ./prog"],
            setup=setup, files=("prog.o", "prog"))


@case("git")
def t_git():
    need("git")
    script = r"""
set -e
git init -q -b main repo
cd repo
for i in 1 2 3 4 5; do
    seq 1 $((i * 2000)) | sed "s/^/line $i /" > file$i.txt
    mkdir -p dir$i && seq $i 7 20000 > dir$i/numbers
    git add -A
    git commit -q -m "commit $i"
done
git mv file1.txt renamed.txt
git commit -q -m "rename"
git log --stat --format='%H %an <%ae> %ad%n%s'
git rev-parse HEAD HEAD~3
git diff --stat HEAD~4 HEAD
git gc -q
git fsck --no-progress
git cat-file -p HEAD
"""
    env = base_env(HOME=os.path.join(TMP, "git-home"), GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL="/dev/null",
                   GIT_AUTHOR_NAME="A U Thor", GIT_AUTHOR_EMAIL="author@example.com",
                   GIT_AUTHOR_DATE="2024-01-02T03:04:05Z",
                   GIT_COMMITTER_NAME="C O Mitter", GIT_COMMITTER_EMAIL="c@example.com",
                   GIT_COMMITTER_DATE="2024-01-02T03:04:05Z")
    os.makedirs(env["HOME"], exist_ok=True)
    compare("git", ["sh", "-c", script], env=env)


def big_file(path, mib=4):
    rng = random.Random(42)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    with open(path, "w") as f:
        size = 0
        while size < mib << 20:
            line = "%s,%d,%s%d\n" % (rng.choice(words), rng.randrange(10**9),
                                     rng.choice(words), rng.randrange(1000))
            f.write(line)
            size += len(line)


@case("sort")
def t_sort():
    need("sort")
    src = os.path.join(TMP, "big.txt")
    big_file(src)

    def setup(d):
        shutil.copy(src, os.path.join(d, "big.txt"))
    compare("sort", ["sh", "-c",
                     "sort big.txt && sort -t, -k2,2n -s big.txt && "
                     "sort -u -r --parallel=2 -S 1M big.txt && sort -R --random-source=big.txt "
                     "big.txt | cksum"],
            setup=setup)


@case("perl")
def t_perl():
    need("perl")
    prog = r"""
my %h;
for my $i (1 .. 200000) { $h{"k$i"} = [$i, "v" x ($i % 50), {sq => $i * $i}] }
my $s = 0;
for my $k (sort keys %h) { $s += length($h{$k}[1]) + $h{$k}[0] + ($h{$k}[2]{sq} % 7) }
print "$s\n";
delete $h{"k$_"} for grep { $_ % 2 } 1 .. 200000;
my %inv = map { $h{$_}[0] => $_ } keys %h;
my @top = (sort { $b <=> $a } keys %inv)[0 .. 4];
print scalar(keys %h), " ", join(",", @top), "\n";
my $str = join "", map { chr(65 + $_ % 26) } 1 .. 1000000;
my %freq; $freq{$_}++ for split //, $str;
print join(" ", map { "$_=$freq{$_}" } sort keys %freq), "\n";
"""
    compare("perl", ["perl", "-e", prog])


# ---- programs written for these tests -----------------------------------------

@case("threads")
def t_threads():
    compare("threads", [helper("shim-threads")])


@case("late-free")
def t_late_free():
    """malloc and free in thread-specific destructors that run after the
    shim's own, while new threads adopt the orphaned heaps: the shim's
    cached heap pointer is dropped at unbind, never used after it."""
    compare("late-free", [helper("shim-late-free")])


@case("fork-exec")
def t_fork_exec():
    need("sort")
    src = os.path.join(TMP, "big.txt")
    big_file(src, mib=1)

    def setup(d):
        shutil.copy(src, os.path.join(d, "big.txt"))
    compare("fork-exec", [helper("shim-forkexec"), "exec", "big.txt"], setup=setup)


@case("fork")
def t_fork():
    compare("fork", [helper("shim-forkexec"), "fork"])


@case("fork-threads")
def t_fork_threads():
    compare("fork-threads", [helper("shim-forkexec"), "threads"])


@case("shm-share")
def t_shm_share():
    """Issue 15: a program sharing memory by memfd and POSIX shm with a
    forked worker (which closes every descriptor but its socket, as daemons
    do, then receives the memfd by SCM_RIGHTS and grows its heap) and with
    a fork+exec'd copy of itself: the same output with the shim, including
    the descriptor numbers it got, its memory policy and the node of its
    shared pages."""
    compare("shm-share", [helper("shim-shm-share")])


@case("ipc-handles")
def t_ipc_handles():
    """Issue 15 (and UMF issue 777, where a proxy-library program's IPC
    handles could not be opened): a program that links libpmnode and shares
    arena buffers through IPC handles with a fork+exec'd consumer, both
    under the shim: the same output as without it (every buffer whole, on
    node 0 in the consumer's own mapping, the stale handle refused), while
    the shim's own heap serves both processes' malloc on node 0."""
    exe = os.path.normpath(os.path.join(ARGS.bindir, "..", "..", "..", "examples",
                                        "ipc_producer_consumer"))
    if not os.path.exists(exe):
        raise Skip("%s was not built (-Dexamples=false)" % exe)
    compare("ipc-handles", [exe, "--node", "0", "--buffers", "500", "--size", "16384"])


@case("signals-dlopen")
def t_signals_dlopen():
    compare("signals-dlopen", [helper("shim-signals-dlopen")])


@case("signal-free")
def t_signal_free():
    """A SIGALRM handler frees blocks while the interrupted loop is inside
    malloc or free (issue 13).  POSIX does not require that to work and
    glibc does not survive this program (its bins change under its feet:
    the plain run is only logged); the shim defers a free that arrives while
    the thread is inside the arena and does it when the thread leaves, so
    the program runs to its end with its heap on node 0."""
    prog = [helper("shim-signals-dlopen"), "free"]
    show("without shim (not compared)", *run(prog, timeout=60))
    sdir = os.path.join(TMP, "stats")
    os.makedirs(sdir)
    stats = os.path.join(sdir, "s.json")
    for attempt in range(3):
        shim_expect(prog, b"handler freed at least 2000 blocks while the loop allocated\n",
                    label="with shim (run %d)" % (attempt + 1), stats=stats, timeout=60)
        doc = check_stats(stats)
        # every block the loop mallocs is freed once (by the loop or by the
        # handler, deferred or not: all the program's calls); stdout's buffer
        # is the one malloc never freed
        calls = doc["calls"]
        if calls["free"] < 2000 or calls["free"] < calls["malloc"] - 1:
            raise Fail("stats calls.free is %d for %d mallocs: the handler's frees are not "
                       "all counted" % (calls["free"], calls["malloc"]))


@case("signal-exit")
def t_signal_exit():
    """A SIGUSR1 handler frees (its thread's blocks and blocks another thread
    allocated) while its thread exits, signals sent without pause by the
    main thread, and one raised from inside libpmnode's unbinding with the
    heap lock held (the program defines the library's test hook,
    pmnode_test_unbind_locked).  The exit is outside the shim's guard; the
    engine blocks the thread's signals while it holds the lock there, so the
    handler runs once it is released.  Before that, every round deadlocked
    (the handler's free bound the thread again and waited for the lock its
    own thread held).  Each round's thread must unbind exactly once: a free
    after the unbinding must not bind the exiting thread again (such a
    binding outlived the thread).  Not run without the shim: POSIX does not
    make free async-signal-safe, and glibc's malloc hangs on this program
    (its watchdog fired within 60 s)."""
    shim_expect([helper("shim-signal-exit"), "100"],
                b"100 rounds ended; handlers freed while threads exited\n",
                env=base_env(SIGNAL_EXIT_EXPECT_HOOK="1"))


@case("signal-fork")
def t_signal_fork():
    """A 20 us SIGALRM handler frees megabyte blocks while its thread does
    nothing but fork: most signals arrive during the fork system call and
    run as it returns in the parent, between the shim's fork handlers, which
    hold the arena's locks so that the child gets them free.  The shim's
    guard is up over that stretch, so the handler's free is deferred; before
    it was, every run stopped at the program's 60 s watchdog.  Not run
    without the shim (POSIX does not make free async-signal-safe)."""
    shim_expect([helper("shim-signal-fork"), "200"],
                b"200 forks waited for; the handler freed while the thread forked\n")


@case("publish-fds")
def t_publish_fds():
    """A daemon under the shim with publish: it closes every descriptor it
    did not open and reuses the numbers for a spool directory and a log.
    The shim held its publish directory open, so the daemon's exit unlinked
    the daemon's own record in the spool directory and a worker's fork
    closed the log; the program checks both, and that no descriptor names
    the publish directory.  Run without the shim first (the same checks
    must hold there)."""
    prog = helper("shim-publish-fds")
    want = b"the daemon's descriptors and files are its own\n"
    for side in ("plain", "shim"):
        d = os.path.join(TMP, "publish-fds", side)
        xdg = os.path.join(d, "xdg")
        os.makedirs(xdg, mode=0o700)
        env = base_env(XDG_RUNTIME_DIR=xdg)
        if side == "shim":
            env["LD_PRELOAD"] = preload_lib()
            env["PMNODE_PRELOAD"] = "node=0;threshold=0;publish"
        rc, out, err = run([prog], cwd=d, env=env, timeout=60)
        show(side, rc, out, err)
        if rc != 0 or out != want or err:
            raise Fail("%s: exit %s, stdout %r, stderr %r" % (side, rc, out, err))
        if side == "shim" and not os.path.isdir(os.path.join(xdg, "pmnode")):
            raise Fail("the shim published nothing (no %s/pmnode)" % xdg)


@case("cxx")
def t_cxx():
    compare("cxx", [helper("shim-cxx")])


@case("malloc-api")
def t_malloc_api():
    compare("malloc-api", [helper("shim-malloc-api")])


@case("glibc-compat")
def t_glibc_compat():
    """Where the standard leaves a choice (odd alignments, size 0), the
    shim chooses as glibc does: a program must not see a difference."""
    compare("glibc-compat", [helper("shim-malloc-api"), "compat"])


@case("huge-align")
def t_huge_align():
    """posix_memalign, memalign and aligned_alloc with a 256 MiB alignment
    (issue 13): the shim reserves address space for the alignment and
    populates only the object, as glibc does; the program checks its own
    resident set and fails if it grew by an alignment's worth."""
    compare("huge-align", [helper("shim-malloc-api"), "huge-align"])


@case("double-free")
def t_double_free():
    """free() twice in a row: glibc aborts the program, and so does the shim,
    with one line naming the pointer; nothing runs on with a broken heap."""
    argv = [helper("shim-malloc-api"), "double-free"]
    rc, out, err = run(argv, timeout=60)
    show("without shim", rc, out, err)
    if rc != -signal.SIGABRT:
        raise Skip("glibc did not abort on a double free here (exit %s)" % rc)
    env = base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD="node=0;threshold=0")
    rc, out, err = run(argv, env=env, timeout=60)
    show("with shim", rc, out, err)
    if rc != -signal.SIGABRT:
        raise Fail("under the shim a double free gave exit %s, want SIGABRT" % rc)
    if b"survived" in out:
        raise Fail("the program ran on after its double free")
    if b"double free" not in err:
        raise Fail("the shim aborted without saying why: %r" % err)


def misuse_aborts(mode, want, glibc_must_abort):
    """A misuse glibc catches makes the shim abort too, with one line that
    says what it saw; nothing runs on with a broken heap (issue 13)."""
    argv = [helper("shim-malloc-api"), mode]
    rc, out, err = run(argv, timeout=60)
    show("without shim", rc, out, err)
    if glibc_must_abort and rc != -signal.SIGABRT:
        raise Skip("glibc did not abort on %s here (exit %s)" % (mode, rc))
    env = base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD="node=0;threshold=0")
    rc, out, err = run(argv, env=env, timeout=60)
    show("with shim", rc, out, err)
    if b"survived" in out:
        raise Fail("under the shim the program ran on after %s: %r" % (mode, out))
    if rc != -signal.SIGABRT:
        raise Fail("under the shim %s gave exit %s, want SIGABRT" % (mode, rc))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if len(lines) != 1 or want not in lines[0]:
        raise Fail("want one line saying %r, got %r" % (want.decode(), err))


@case("double-free-apart")
def t_double_free_apart():
    misuse_aborts("double-free-apart", b"double free", True)


@case("free-interior")
def t_free_interior():
    misuse_aborts("free-interior", b"invalid pointer", True)


@case("realloc-freed")
def t_realloc_freed():
    misuse_aborts("realloc-freed", b"invalid pointer", False)


@case("double-free-threads")
def t_double_free_threads():
    misuse_aborts("double-free-threads", b"double free", False)


@case("foreign")
def t_foreign():
    prog = helper("shim-foreign")
    rc, out, _ = run([prog])
    if rc == SKIP:
        raise Skip(out.decode().strip())

    def foreign(doc):
        # 8 freed directly, the calloc'd and the memalign'd block
        if doc["foreign_frees"] < 10:
            raise Fail("stats foreign_frees is %d, want >= 10" % doc["foreign_frees"])
    compare("foreign", [prog], stats_checks=foreign)


@case("threshold")
def t_threshold():
    """threshold=4096: small requests go to libc, large to the node; realloc
    crosses the line both ways (malloc-api's doubling chain)."""
    def split(doc):
        if doc["libc_calls"] == 0:
            raise Fail("stats libc_calls is 0 with threshold 4096")
    compare("threshold-api", [helper("shim-malloc-api")], threshold=4096, stats_checks=split)
    compare("threshold-threads", [helper("shim-threads"), "5000"], threshold=4096,
            stats_checks=split)


# ---- the stats file (issue 13) --------------------------------------------------

@case("stats-links")
def t_stats_links():
    """stats=PATH never writes through a link: `ln -s /root/x /tmp/heap.json`
    then a root-run --stats=/tmp/heap.json overwrote /root/x.  The shim now
    writes a new file beside PATH and renames it over PATH: a symbolic link
    there is refused (nothing written, one line), a hard link is replaced
    (the other name keeps its content), a regular file is replaced whole;
    /dev/stderr and /dev/null still work.  pmnode run refuses a symbolic
    link before the program starts."""
    d = os.path.join(TMP, "links")
    os.makedirs(d)
    victim = os.path.join(d, "victim")
    python = ARGS.python or sys.executable
    prog = [python, "-c", "x = [bytes(100) for i in range(1000)]"]
    problems = []

    def precious():
        with open(victim, "w") as f:
            f.write("precious\n")

    def intact(what):
        got = open(victim).read()
        if got != "precious\n":
            problems.append("%s: the file behind the link now holds %r" % (what, got[:60]))

    def shim(stats):
        env = base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD="node=0;threshold=0;stats=" + stats)
        rc, out, err = run(prog, env=env, timeout=60)
        log("stats=%s -> exit %s, stderr %r" % (stats, rc, err))
        if rc != 0:
            problems.append("stats=%s: the program exited %s" % (stats, rc))
        return err.decode(errors="replace")

    precious()
    sym = os.path.join(d, "sym.json")
    os.symlink(victim, sym)
    err = shim(sym)
    intact("stats=symlink")
    if not os.path.islink(sym):
        problems.append("stats=symlink: the link was replaced")
    if len(err.splitlines()) != 1 or "symbolic link" not in err:
        problems.append("stats=symlink: want one line saying it is a symbolic link, got %r" % err)
    dangling = os.path.join(d, "dangling.json")
    os.symlink(os.path.join(d, "made-through-link"), dangling)
    shim(dangling)
    if os.path.exists(os.path.join(d, "made-through-link")):
        problems.append("stats=dangling symlink: a file was created through it")
    hard = os.path.join(d, "hard.json")
    os.link(victim, hard)
    err = shim(hard)
    intact("stats=hard link")
    if err:
        problems.append("stats=hard link: stderr %r" % err)
    else:
        check_stats(hard)
    reg = os.path.join(d, "regular.json")
    with open(reg, "w") as f:
        f.write("x" * 10000)  # longer than the stats: nothing of it may stay
    shim(reg)
    check_stats(reg)
    left = sorted(f for f in os.listdir(d) if f.startswith(".pmnode-"))
    if left:
        problems.append("temporary files left behind: %s" % left)
    err = shim("/dev/stderr")
    try:
        doc = json.loads(err)
        if doc.get("target") != "node=0":
            problems.append("stats=/dev/stderr: target %r" % doc.get("target"))
    except ValueError:
        problems.append("stats=/dev/stderr: stderr is not the JSON summary: %r" % err[:200])
    err = shim("/dev/null")
    if err:
        problems.append("stats=/dev/null: stderr %r" % err)
    # pmnode run refuses the link up front, and the program does not run
    p = expect_usage(["--node", "0", "--stats=" + sym, "--", python, "-c", "print('ran')"])
    intact("pmnode run --stats=symlink")
    p += expect_usage(["--node", "0", "--stats=" + d, "--", "true"])
    all_or_fail(problems + p)


@case("stats-descriptors")
def t_stats_descriptors():
    """stats=/dev/fd/N writes to the file open on N when the program
    started, or to nothing: the shim wrote to whatever N was at exit, so a
    program that closed N and opened its own file there (a database, a
    log) had the JSON appended to it, and `pmnode run --stats=/dev/fd/9`
    ran with no 9 open at all."""
    d = os.path.join(TMP, "statsfd")
    os.makedirs(d)
    python = ARGS.python or sys.executable
    problems = []
    # The program closes 9 (if open) and opens a file of its own on it.
    reuse = ("import os\n"
             "try: os.close(9)\n"
             "except OSError: pass\n"
             "fd = os.open(%r, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)\n"
             "if fd != 9: os.dup2(fd, 9); os.close(fd)\n"
             "os.write(9, b'mine\\n')\n"
             "x = [bytes(100) for i in range(1000)]\n")
    keep = "x = [bytes(100) for i in range(1000)]\n"

    def shim(code, report=None, what=""):
        env = base_env(LD_PRELOAD=preload_lib(),
                       PMNODE_PRELOAD="node=0;threshold=0;stats=/dev/fd/9")
        fds = ()
        if report is not None:
            fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            if fd != 9:
                os.dup2(fd, 9)
                os.close(fd)
            fds = (9,)
        try:
            p = subprocess.run([python, "-c", code], env=env, pass_fds=fds,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        finally:
            if fds:
                os.close(9)
        err = p.stderr.decode(errors="replace")
        log("%s -> exit %s, stderr %r" % (what, p.returncode, err))
        if p.returncode != 0:
            problems.append("%s: the program exited %s" % (what, p.returncode))
        return err

    # N open at start and kept: the report lands there
    rep = os.path.join(d, "report.json")
    err = shim(keep, rep, "9 open and kept")
    if err:
        problems.append("9 open and kept: stderr %r" % err)
    check_stats(rep)
    # N open at start, then closed and reused by the program
    mine = os.path.join(d, "mine-reused")
    rep2 = os.path.join(d, "report2.json")
    err = shim(reuse % mine, rep2, "9 reused")
    if open(mine).read() != "mine\n":
        problems.append("9 reused: the program's file now holds %r" % open(mine).read()[:80])
    if os.path.getsize(rep2) != 0:
        problems.append("9 reused: the report went to the file 9 named at start, by name?")
    if len(err.splitlines()) != 1 or "no longer" not in err:
        problems.append("9 reused: want one line saying so, got %r" % err)
    # N not open at start; the program opens its own file there
    mine = os.path.join(d, "mine-opened")
    err = shim(reuse % mine, None, "9 not open at start")
    if open(mine).read() != "mine\n":
        problems.append("9 not open at start: the program's file now holds %r"
                        % open(mine).read()[:80])
    if len(err.splitlines()) != 1 or "not open" not in err:
        problems.append("9 not open at start: want one line saying so, got %r" % err)
    # pmnode run checks the descriptor before the program starts
    problems += expect_usage(["--node", "0", "--stats=/dev/fd/9", "--", python, "-c",
                              "open(%r, 'w')" % os.path.join(d, "ran")])
    problems += expect_usage(["--node", "0", "--stats=/dev/fd/99999999", "--", "true"])
    problems += expect_usage(["--node", "0", "--stats=/proc/self/fd/x", "--", "true"])
    if os.path.exists(os.path.join(d, "ran")):
        problems.append("pmnode run --stats=/dev/fd/9 ran the program with no 9 open")
    rep3 = os.path.join(d, "report3.json")
    fd = os.open(rep3, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if fd != 9:
            os.dup2(fd, 9)
            os.close(fd)
        rc, out, err = (lambda p: (p.returncode, p.stdout, p.stderr))(subprocess.run(
            [ARGS.pmnode, "run", "--node", "0", "--threshold", "0", "--stats=/dev/fd/9", "--",
             python, "-c", keep], env=base_env(), pass_fds=(9,), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60))
    finally:
        os.close(9)
    log("pmnode run --stats=/dev/fd/9 with 9 open -> exit %s, stderr %r" % (rc, err))
    if rc != 0 or err:
        problems.append("pmnode run --stats=/dev/fd/9 with 9 open: exit %s, stderr %r"
                        % (rc, err))
    else:
        check_stats(rep3)
    all_or_fail(problems)


# ---- secure-execution mode (issue 13) ---------------------------------------------

def secure_line(rc, out, err, what):
    log("%s -> exit %s, stdout %r, stderr %r" % (what, rc, out, err))
    if rc != 0:
        raise Fail("%s: exit %s" % (what, rc))
    return out.decode().strip()


@case("secure-emulated")
def t_secure_emulated():
    """In secure-execution mode the shim ignores PMNODE_PRELOAD whole (its
    stats path above all).  shim-secure-emulated asks for that behaviour
    through the shim's test hook; shim-secure, the same program without
    it, shows the configuration is otherwise obeyed."""
    d = os.path.join(TMP, "secure")
    os.makedirs(d)
    victim = os.path.join(d, "victim")
    problems = []
    for prog, secure in (("shim-secure", False), ("shim-secure-emulated", True)):
        with open(victim, "w") as f:
            f.write("precious\n")
        env = base_env(LD_PRELOAD=preload_lib(),
                       PMNODE_PRELOAD="node=0;threshold=0;log=debug;stats=" + victim)
        line = secure_line(*run([helper(prog)], env=env, timeout=60), what=prog)
        kept = open(victim).read() == "precious\n"
        want = "AT_SECURE=0 shim=loaded heap=" + ("brk" if secure else "mapped")
        if line != want:
            problems.append("%s: %r, want %r" % (prog, line, want))
        if kept != secure:
            problems.append("%s: stats=%s %s" % (prog, victim, "overwritten" if secure
                                                  else "not written"))
    # nothing of the configuration is read: not even a node that is not there
    env = base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD="node=999;log=loud")
    rc, out, err = run([helper("shim-secure-emulated")], env=env, timeout=60)
    if rc != 0 or err:
        problems.append("secure, PMNODE_PRELOAD='node=999;log=loud': exit %s, stderr %r" % (rc, err))
    all_or_fail(problems)


@case("secure-setuid")
def t_secure_setuid():
    """The real thing: the shim in /etc/ld.so.preload (inside a private
    mount namespace: an overlay on /etc that no other process sees), a
    set-user-ID root program run by nobody with PMNODE_PRELOAD naming a
    root-owned file as stats.  The file must stay as it was and the heap be
    glibc's; the same program run by root (no secure mode) shows the
    preload works and the configuration is obeyed."""
    if os.geteuid() != 0:
        raise Skip("needs root (a set-user-ID root program and a mount namespace)")
    for prog in ("unshare", "setpriv", "env", "sh"):
        need(prog)
    lib = preload_lib()
    d = tempfile.mkdtemp(prefix="pmnode-setuid-")
    try:
        os.chmod(d, 0o755)
        prog = os.path.join(d, "prog")
        shutil.copy(helper("shim-secure"), prog)
        os.chown(prog, 0, 0)
        os.chmod(prog, 0o4755)
        victim = os.path.join(d, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.chmod(victim, 0o644)
        control = os.path.join(d, "control.json")
        for sub in ("upper", "work"):
            os.makedirs(os.path.join(d, sub))
        script = ('mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/upper",'
                  'workdir="$1/work" /etc || exit 90; '
                  'printf "%s\\n" "$2" > /etc/ld.so.preload || exit 91; shift 2; exec "$@"')
        host_preload = os.path.exists("/etc/ld.so.preload")

        def in_ns(*argv):
            cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script,
                   "sh", d, lib] + list(argv)
            rc, out, err = run(cmd, timeout=60)
            if rc in (90, 91) or (rc != 0 and b"unshare" in err):
                raise Skip("cannot overlay /etc in a mount namespace here: %r" % err)
            return rc, out, err

        conf = "node=0;threshold=0;stats="
        ctl = secure_line(*in_ns("env", "PMNODE_PRELOAD=" + conf + control, prog), what="root")
        suid = secure_line(*in_ns("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "--", "env", "PMNODE_PRELOAD=" + conf + victim, prog),
                           what="nobody, set-user-ID root")
        if os.path.exists("/etc/ld.so.preload") != host_preload:
            raise Fail("/etc/ld.so.preload changed outside the namespace")
        if ctl != "AT_SECURE=0 shim=loaded heap=mapped":
            raise Fail("control run by root: %r, want the shim loaded and the heap mapped" % ctl)
        check_stats(control, min_malloc=0)
        if not suid.startswith("AT_SECURE=1 "):
            raise Skip("the set-user-ID bit did not give secure-execution mode (nosuid "
                       "mount?): %r" % suid)
        problems = []
        if suid != "AT_SECURE=1 shim=loaded heap=brk":
            problems.append("set-user-ID run: %r, want the shim loaded and glibc's heap" % suid)
        got = open(victim).read()
        if got != "precious\n":
            problems.append("the root-owned stats file was overwritten: %r" % got[:80])
        all_or_fail(problems)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- another allocator in the same process (issue 13) --------------------------

def jemalloc():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
              "/usr/lib", "/usr/local/lib"):
        path = os.path.join(d, "libjemalloc.so.2")
        if os.path.exists(path):
            return path
    raise Skip("libjemalloc.so.2 is not installed (Debian: libjemalloc2)")


HEAP_PY = r"""
import sys
blobs = [bytes(i % 9000) for i in range(20000)]
words = {str(i): "w" * (i % 300) for i in range(100000)}
grown = bytearray()
for i in range(3000):
    grown += b"x" * (i % 500)
print(len(blobs), sum(map(len, words.values())), len(grown))
"""


@case("jemalloc-after")
def t_jemalloc_after():
    """LD_PRELOAD=libjemalloc.so.2 pmnode run ...: pmnode puts the shim
    first and jemalloc after it.  The shim's allocator below the arena is
    then jemalloc (malloc, free, realloc and malloc_usable_size all of it;
    before issue 13, glibc's __libc_* with jemalloc's malloc_usable_size:
    SIGSEGV), and C++ new/delete are the shim's (jemalloc's own delete met
    the shim's objects: abort).  Same output as under jemalloc alone."""
    env = base_env(LD_PRELOAD=jemalloc())
    python = ARGS.python or sys.executable
    compare("jemalloc-python", [python, "-c", HEAP_PY], env=env, threshold=4096)
    compare("jemalloc-python-all", [python, "-c", HEAP_PY], env=env, threshold=0)
    # the malloc family's edges with jemalloc below the shim (size 0 at
    # every alignment: jemalloc's memalign(a, 0) is not aligned)
    compare("jemalloc-aligned-zero", [helper("shim-malloc-api"), "aligned-zero"], env=env,
            threshold=4096)
    cxx = os.path.join(ARGS.bindir, "shim-cxx")
    if os.path.exists(cxx):
        compare("jemalloc-cxx", [cxx], env=env)
    else:
        log("shim-cxx not built (no C++ compiler): C++ part not run")


@case("jemalloc-before")
def t_jemalloc_before():
    """LD_PRELOAD=libjemalloc.so.2:libpmnode-preload.so: jemalloc's malloc is
    the program's and the heap cannot be placed; the shim says so (exit 2,
    one line naming jemalloc) instead of running with nothing placed."""
    lib = jemalloc()
    env = base_env(LD_PRELOAD=lib + ":" + preload_lib(), PMNODE_PRELOAD="node=0")
    rc, out, err = run(["sh", "-c", "echo ran"], env=env, timeout=60)
    log("LD_PRELOAD=jemalloc:shim -> exit %s, stdout %r, stderr %r" % (rc, out, err))
    lines = err.decode(errors="replace").splitlines()
    if rc != 2 or out or len(lines) != 1 or not lines[0].startswith("pmnode-preload:") \
            or "libjemalloc" not in lines[0]:
        raise Fail("want exit 2 and one 'pmnode-preload:' line naming libjemalloc")
    # unconfigured, the shim stays out of the way even there
    env = base_env(LD_PRELOAD=lib + ":" + preload_lib())
    rc, out, err = run(["sh", "-c", "echo ran"], env=env, timeout=60)
    if rc != 0 or out != b"ran\n" or err:
        raise Fail("unconfigured shim after jemalloc: exit %s, %r %r" % (rc, out, err))


# ---- peak RSS against glibc's (issue 17) ------------------------------------

def maxrss_kib(argv, env):
    """The peak RSS in KiB that @argv reports for itself (VmHWM)."""
    rc, out, err = run(argv, env=env, timeout=120)
    fields = out.decode().split()
    if rc != 0 or len(fields) != 2 or fields[0] != "ok":
        show(" ".join(argv), rc, out, err)
        raise Fail("%s did not run" % " ".join(argv))
    return int(fields[1])


def shim_env(conf="node=0;threshold=0"):
    return base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD=conf)


@case("large-lazy")
def t_large_lazy():
    """A 128 MiB malloc of which the program writes 4 MiB: glibc leaves the
    rest unbacked, and so must the shim (large blocks are bound to the node
    and faulted in by the first touch); with 'populate' the shim populates
    the whole block up front.  Peak RSS, not time: a ratio bound is safe."""
    argv = [helper("shim-rss"), "big", "128", "4"]
    glibc = maxrss_kib(argv, base_env())
    lazy = maxrss_kib(argv, shim_env())
    full = maxrss_kib(argv, shim_env("node=0;threshold=0;populate"))
    log("peak RSS KiB: glibc %d, shim %d, shim with populate %d" % (glibc, lazy, full))
    if lazy > 2 * glibc + 8 * 1024:
        raise Fail("the shim's peak RSS %d KiB is over twice glibc's %d KiB plus 8 MiB: "
                   "the untouched block was populated" % (lazy, glibc))
    if full < 128 * 1024:
        raise Fail("with populate the peak RSS %d KiB is below the 128 MiB block" % full)


@case("tiny-rss")
def t_tiny_rss():
    """A tiny program's fixed overhead: the shim's peak RSS within 3x
    glibc's plus 1 MiB (issue 17: within 1 MiB of glibc's is the goal)."""
    argv = [helper("shim-rss"), "tiny"]
    glibc = maxrss_kib(argv, base_env())
    shim = maxrss_kib(argv, shim_env())
    log("peak RSS KiB: glibc %d, shim %d (+%d)" % (glibc, shim, shim - glibc))
    if shim > 3 * glibc + 1024:
        raise Fail("the shim's peak RSS %d KiB is over 3x glibc's %d KiB plus 1 MiB"
                   % (shim, glibc))


@case("malloc-trim")
def t_malloc_trim():
    """malloc_trim(3) under the shim gives the arena's kept memory back
    (pmn_arena_trim: the retained empty extents' pages, the slack, the
    large-extent cache) and says so by returning 1; the program's memory
    serves again afterwards.  Without the shim it only has to run."""
    argv = [helper("shim-rss"), "trim"]
    got = {}
    for name, env in (("glibc", base_env()), ("shim", shim_env())):
        rc, out, err = run(argv, env=env, timeout=60)
        fields = out.decode(errors="replace").split()
        if rc != 0 or len(fields) != 4 or fields[0] != "ok":
            show(" ".join(argv), rc, out, err)
            raise Fail("%s did not run (%s)" % (" ".join(argv), name))
        got[name] = [int(f) for f in fields[1:]]
    log("RSS KiB before/after malloc_trim, returned: glibc %s, shim %s"
        % (got["glibc"], got["shim"]))
    before, after, ret = got["shim"]
    if ret != 1:
        raise Fail("under the shim malloc_trim(0) returned %d after 12 MiB were freed, want 1"
                   % ret)
    if after > before - 4 * 1024:
        raise Fail("under the shim malloc_trim(0) took RSS from %d to %d KiB: "
                   "less than 4 MiB went back" % (before, after))


# ---- configuration errors, straight through PMNODE_PRELOAD --------------------

def direct(conf, **extra):
    env = base_env(LD_PRELOAD=preload_lib(), PMNODE_PRELOAD=conf, **extra)
    rc, out, err = run(["sh", "-c", "echo ran"], env=env, timeout=60)
    log("PMNODE_PRELOAD=%r -> exit %s, stdout %r, stderr %r" % (conf, rc, out, err))
    return rc, out, err


def expect_refused(conf, **extra):
    rc, out, err = direct(conf, **extra)
    lines = err.decode(errors="replace").splitlines()
    problems = []
    if rc != 2:
        problems.append("exit %s, want 2" % rc)
    if out:
        problems.append("the program ran")
    if len(lines) != 1:
        problems.append("%d lines on stderr, want 1" % len(lines))
    elif not lines[0].startswith("pmnode-preload:"):
        problems.append("message does not start with 'pmnode-preload:'")
    return ["PMNODE_PRELOAD=%r: %s" % (conf, "; ".join(problems))] if problems else []


def expect_accepted(conf, **extra):
    rc, out, err = direct(conf, **extra)
    if rc != 0 or out != b"ran\n" or err:
        return ["PMNODE_PRELOAD=%r: exit %s, stdout %r, stderr %r; want 0, 'ran', nothing"
                % (conf, rc, out, err)]
    return []


def all_or_fail(problems):
    if problems:
        for p in problems:
            log("FAIL " + p)
        raise Fail("%d configuration%s handled wrongly" % (len(problems),
                                                            "" if len(problems) == 1 else "s"))


@case("env-bad-node")
def t_env_bad_node():
    all_or_fail(expect_refused("node=999"))


@case("env-bad-threshold")
def t_env_bad_threshold():
    all_or_fail(expect_refused("node=0;threshold=abc"))


@case("env-bad-values")
def t_env_bad_values():
    problems = []
    for conf in ["node=abc", "node=-1", "node=", "node=0;threshold=-1",
                 "node=0;threshold=12x", "node=0;threshold=99999999999999999999999",
                 "kind=bogus", "node=0;spill=x", "node=0;spill=999", "node=0;spill=0,,1",
                 "node=0;bogus=1", "node=0;log=loud", "threshold=0", "garbage",
                 "node=0;populate=yes", "node=0;large_cache=big"]:
        problems += expect_refused(conf)
    all_or_fail(problems)


@case("env-conflicting-targets")
def t_env_conflicting_targets():
    """One target: two of node=, kind=, private (or node= twice) is a
    mistake to report, not a choice to make silently."""
    kind = list_json()["nodes"][0]["kind"]
    problems = []
    for conf in ["node=0;kind=" + kind, "kind=%s;node=0" % kind, "node=0;private",
                 "node=0;node=0"]:
        problems += expect_refused(conf, PMNODE_PRIVATE_NODES="0")
    all_or_fail(problems)


@case("env-unusable-target")
def t_env_unusable_target():
    """Targets that parse but cannot be served on this host."""
    problems = []
    kinds = {n["kind"] for n in list_json()["nodes"]}
    missing = [k for k in ("cxl", "gpu", "hbm", "compressed") if k not in kinds]
    if missing:
        problems += expect_refused("kind=" + missing[0])
    if not any(n["private"] for n in list_json()["nodes"]):
        problems += expect_refused("private")
    all_or_fail(problems)


@case("env-good-forms")
def t_env_good_forms():
    nodes = list_json()["nodes"]
    problems = []
    problems += expect_accepted("node=0")
    problems += expect_accepted("node=0 threshold=0")
    problems += expect_accepted("node=0;threshold=4096;log=error")
    problems += expect_accepted("node=0;populate;large_cache=16M")
    problems += expect_accepted("node=0;large_cache=0")
    problems += expect_accepted("kind=" + nodes[0]["kind"])
    problems += expect_accepted("private", PMNODE_PRIVATE_NODES="0")
    all_or_fail(problems)


# ---- the pmnode run command line -------------------------------------------

def list_json():
    rc, out, err = run([ARGS.pmnode, "list", "--json"])
    if rc != 0:
        raise Skip("pmnode list --json failed (no NUMA sysfs?): %s" % err.decode().strip())
    return json.loads(out)


def expect_usage(args, env=None, code=2):
    rc, out, err = run([ARGS.pmnode, "run", *args], env=env, timeout=60)
    lines = err.decode(errors="replace").splitlines()
    log("$ pmnode run %s -> %s %r" % (" ".join(args), rc, err.decode(errors="replace").strip()))
    problems = []
    if rc != code:
        problems.append("exit %s, want %d" % (rc, code))
    if out:
        problems.append("wrote to stdout")
    if len(lines) != 1 or not lines[0].startswith("pmnode: "):
        problems.append("not one 'pmnode: ' line on stderr")
    return ["pmnode run %s: %s" % (" ".join(args), "; ".join(problems))] if problems else []


@case("cli-run-help")
def t_cli_help():
    rc, out, err = run([ARGS.pmnode, "run", "--help"])
    text = out.decode()
    if rc != 0 or not text.startswith("usage: pmnode run ") or err:
        raise Fail("pmnode run --help: exit %s, stderr %r" % (rc, err))
    for word in ("--node", "--kind", "--private", "--threshold", "--spill", "--stats",
                 "PMNODE_PRELOAD_LIB", "127", "--allow-unshimmed"):
        if word not in text:
            raise Fail("pmnode run --help does not mention %s" % word)
    rc, out, err = run([ARGS.pmnode, "--help"])
    if rc != 0 or "\n  run " not in out.decode():
        raise Fail("pmnode --help does not list run")


@case("cli-run-usage")
def t_cli_usage():
    p = []
    p += expect_usage([])
    p += expect_usage(["--node", "0"])                         # no program
    p += expect_usage(["--node", "0", "--"])                   # empty program
    p += expect_usage(["--", "true"])                          # no target
    p += expect_usage(["--node", "0", "--kind", "dram", "--", "true"])
    p += expect_usage(["--node", "0", "--private", "--", "true"])
    p += expect_usage(["--node", "x", "--", "true"])
    p += expect_usage(["--node", "--", "true"])
    p += expect_usage(["--node"])
    p += expect_usage(["--kind", "bogus", "--", "true"])
    p += expect_usage(["--node", "0", "--threshold", "abc", "--", "true"])
    p += expect_usage(["--node", "0", "--threshold", "-1", "--", "true"])
    p += expect_usage(["--node", "0", "--threshold", "99999999999999999999T", "--", "true"])
    p += expect_usage(["--node", "0", "--spill", "", "--", "true"])
    p += expect_usage(["--node", "0", "--spill", "1,,2", "--", "true"])
    p += expect_usage(["--node", "0", "--spill", "0", "--", "true"])    # the target itself
    p += expect_usage(["--node", "0", "--stats=", "--", "true"])
    p += expect_usage(["--node", "0", "--stats", "--", "true"])     # a file is needed
    p += expect_usage(["--node", "0", "--stats", "/tmp/x.json", "--", "true"])  # needs '='
    p += expect_usage(["--node", "0", "--stats=/nonexistent-dir/s.json", "--", "true"])
    p += expect_usage(["--node", "0", "--stats=/tmp/a;b", "--", "true"])
    p += expect_usage(["--node", "0", "--log", "loud", "--", "true"])
    p += expect_usage(["--node", "0", "--bogus", "--", "true"])
    p += expect_usage(["--node", "0", "true"])                 # program before '--'
    all_or_fail(p)


@case("cli-run-targets")
def t_cli_targets():
    """Targets checked against discovery before the program starts."""
    nodes = list_json()["nodes"]
    ids = {n["id"] for n in nodes}
    kinds = {n["kind"] for n in nodes}
    absent = max(ids) + 1
    p = []
    p += expect_usage(["--node", str(absent), "--", "true"])
    p += expect_usage(["--node", "999999", "--", "true"])
    p += expect_usage(["--node", "0", "--spill", str(absent), "--", "true"])
    for k in ("cxl", "gpu", "hbm", "compressed", "nvm", "spm"):
        if k not in kinds:
            p += expect_usage(["--kind", k, "--", "true"])
            break
    if not any(n["private"] for n in nodes):
        p += expect_usage(["--private", "--", "true"])
    if ARGS.fixtures:
        root = os.path.join(ARGS.fixtures, "one-node-dram", "root")
        p += expect_usage(["--node", "0", "--", "true"], env=base_env(PMNODE_SYSFS_ROOT=root))
    # a CPU-less or memory-less node in the topology, if the host has one
    for n in nodes:
        if n["capacity_bytes"] == 0:
            p += expect_usage(["--node", str(n["id"]), "--", "true"])
    all_or_fail(p)


def elf_interp(path):
    """Whether the ELF file @path has a PT_INTERP header (None: not ELF)."""
    import struct
    with open(path, "rb") as f:
        h = f.read(64)
        if h[:4] != b"\x7fELF" or h[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", h, 32)
        phentsize, phnum = struct.unpack_from("<HH", h, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:
                return True
    return False


def static_program():
    """A statically linked program printing 'static ran' and exiting 3:
    built here with gcc -static, or else busybox if it is static."""
    src = os.path.join(TMP, "static.c")
    exe = os.path.join(TMP, "static")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("static ran"); return 3; }\n')
    if shutil.which("gcc") and subprocess.run(["gcc", "-static", "-o", exe, src],
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL).returncode == 0:
        return [exe], b"static ran\n", 3
    bb = shutil.which("busybox")
    if bb and elf_interp(bb) is False:
        return [bb, "sh", "-c", "echo static ran; exit 3"], b"static ran\n", 3
    raise Skip("no static program: gcc -static fails (no libc.a) and busybox is not static")


@case("cli-run-unshimmed")
def t_cli_unshimmed():
    """A program the shim cannot reach (issue 13) used to run with nothing
    placed and exit 0: statically linked, or a script whose interpreter
    is, or a program of another ELF class.  pmnode run says so, exit 2;
    --allow-unshimmed runs it anyway.  Dynamic programs and scripts still
    run."""
    preload_lib()
    argv, out_want, rc_want = static_program()
    p = []
    p += expect_usage(["--node", "0", "--"] + argv)
    script = os.path.join(TMP, "under-static.sh")
    with open(script, "w") as f:
        f.write("#!%s\necho script ran\n" % argv[0])
    os.chmod(script, 0o755)
    p += expect_usage(["--node", "0", "--", script])
    # a 32-bit ELF header (i386) with a PT_INTERP: another class than the shim
    import struct
    elf32 = os.path.join(TMP, "elf32")
    with open(elf32, "wb") as f:
        f.write(b"\x7fELF\x01\x01\x01" + bytes(9) +
                struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x8048000, 52, 0, 0, 52, 32, 1, 0, 0, 0) +
                struct.pack("<IIIIIIII", 3, 84, 0, 0, 19, 19, 4, 1) + b"/lib/ld-linux.so.2\0")
    os.chmod(elf32, 0o755)
    p += expect_usage(["--node", "0", "--", elf32])
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--allow-unshimmed", "--"] + argv)
    log("--allow-unshimmed %s -> %s %r %r" % (argv[0], rc, out, err))
    if rc != rc_want or out != out_want or err:
        p.append("--allow-unshimmed: exit %s, stdout %r, stderr %r; want %d, %r, nothing"
                 % (rc, out, err, rc_want, out_want))
    # what the shim reaches still runs: a program found on PATH, a script
    # under a dynamic interpreter
    for args in (["true"], ["sh", "-c", "exit 0"]):
        rc, _, err = run([ARGS.pmnode, "run", "--node", "0", "--"] + args)
        if rc != 0 or err:
            p.append("pmnode run -- %s: exit %s, stderr %r" % (" ".join(args), rc, err))
    dyn = os.path.join(TMP, "dynamic.sh")
    with open(dyn, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(dyn, 0o755)
    rc, _, err = run([ARGS.pmnode, "run", "--node", "0", "--", dyn])
    if rc != 0 or err:
        p.append("pmnode run -- %s (#!/bin/sh): exit %s, stderr %r" % (dyn, rc, err))
    all_or_fail(p)


@case("cli-run-setuid")
def t_cli_setuid():
    """A set-user-ID or set-group-ID program whose ids are not the caller's
    runs in secure-execution mode: the loader drops LD_PRELOAD, nothing is
    placed.  pmnode run says so (exit 2) unless --allow-unshimmed; a
    set-user-ID program owned by the caller is no such case."""
    if os.geteuid() != 0:
        raise Skip("needs root to give a copy of a program another owner")
    preload_lib()
    prog = os.path.join(TMP, "secure")
    shutil.copy(helper("shim-secure"), prog)
    p = []
    os.chown(prog, 65534, 0)
    os.chmod(prog, 0o4755)
    p += expect_usage(["--node", "0", "--", prog])
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--threshold", "0",
                        "--allow-unshimmed", "--", prog])
    log("--allow-unshimmed set-user-ID 65534 -> %s %r %r" % (rc, out, err))
    if out.startswith(b"AT_SECURE=0"):
        raise Skip("the set-user-ID bit gives no secure-execution mode here (nosuid?)")
    if rc != 0 or out != b"AT_SECURE=1 shim=absent heap=brk\n":
        p.append("--allow-unshimmed: exit %s, stdout %r (want the loader to have dropped "
                 "the shim)" % (rc, out))
    os.chown(prog, 0, 65534)
    os.chmod(prog, 0o2755)
    p += expect_usage(["--node", "0", "--", prog])
    os.chown(prog, 0, 0)
    os.chmod(prog, 0o6755)  # set-ID to the caller's own ids: reached
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--threshold", "0", "--", prog])
    if rc != 0 or out != b"AT_SECURE=0 shim=loaded heap=mapped\n":
        p.append("set-user-ID root run by root: exit %s, stdout %r, stderr %r" % (rc, out, err))
    all_or_fail(p)


def show_env_cmd():
    return ["sh", "-c", 'printf "%s\\n%s\\n" "$PMNODE_PRELOAD" "$LD_PRELOAD"']


@case("cli-run-env")
def t_cli_env():
    """What pmnode run hands the program: PMNODE_PRELOAD built from the
    options, the shim first in LD_PRELOAD, an existing LD_PRELOAD kept."""
    lib = preload_lib()
    nodes = list_json()["nodes"]
    p = []

    def expect(args, conf, env=None, preload=lib):
        rc, out, err = run([ARGS.pmnode, "run", *args, "--", *show_env_cmd()], env=env)
        got = out.decode().split("\n")
        log("$ pmnode run %s -> %s %r %r" % (" ".join(args), rc, got[:2], err))
        if rc != 0 or got[:2] != [conf, preload]:
            p.append("pmnode run %s: exit %s, PMNODE_PRELOAD/LD_PRELOAD %r, want %r"
                     % (" ".join(args), rc, got[:2], [conf, preload]))

    expect(["--node", "0"], "node=0")
    expect(["--node=0", "--threshold=64k"], "node=0;threshold=65536")
    expect(["--node", "0", "--threshold", "0", "--log", "error"], "node=0;threshold=0;log=error")
    expect(["--kind", nodes[0]["kind"].upper()], "kind=" + nodes[0]["kind"])
    expect(["--private"], "private", env=base_env(PMNODE_PRIVATE_NODES="0"))
    os.makedirs(os.path.join(TMP, "cwd"))
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--stats=rel.json", "--",
                        *show_env_cmd()], cwd=os.path.join(TMP, "cwd"))
    want = "node=0;stats=" + os.path.join(os.path.realpath(TMP), "cwd", "rel.json")
    if out.decode().split("\n")[0] != want:
        p.append("--stats=rel.json: PMNODE_PRELOAD %r, want %r" % (out.decode(), want))
    # an existing LD_PRELOAD stays, after the shim; an old PMNODE_PRELOAD is replaced
    other = os.path.join(ARGS.bindir, "libshim-empty.so")
    if os.path.exists(other):
        expect(["--node", "0"], "node=0",
               env=base_env(LD_PRELOAD=other, PMNODE_PRELOAD="node=999"),
               preload=lib + ":" + other)
    all_or_fail(p)


@case("cli-run-status")
def t_cli_status():
    preload_lib()
    p = []
    for code in (0, 1, 3, 77, 255):
        rc, _, _ = run([ARGS.pmnode, "run", "--node", "0", "--", "sh", "-c", "exit %d" % code])
        if rc != code:
            p.append("sh -c 'exit %d' under pmnode run exited %s" % (code, rc))
    rc, _, _ = run([ARGS.pmnode, "run", "--node", "0", "--", "sh", "-c", "kill -TERM $$"])
    if rc != -15:
        p.append("a program killed by SIGTERM: status %s, want killed by signal 15" % rc)
    # stdin, stdout and arguments pass through untouched
    rc, out, _ = run([ARGS.pmnode, "run", "--node", "0", "--", "sh", "-c", 'cat; printf "[%s]" "$@"',
                      "sh", "a b", "", "--node"], stdin=open(os.devnull, "rb"))
    if rc != 0 or out != b"[a b][][--node]":
        p.append("arguments not passed through: %r" % out)
    p += expect_usage(["--node", "0", "--", "no-such-program-pmnode-test"], code=127)
    p += expect_usage(["--node", "0", "--", "/nonexistent/prog"], code=127)
    noexec = os.path.join(TMP, "noexec.sh")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(noexec, 0o644)
    p += expect_usage(["--node", "0", "--", noexec], code=126)  # even root needs an x bit
    all_or_fail(p)


@case("cli-run-lib")
def t_cli_lib():
    lib = preload_lib()
    p = []
    p += expect_usage(["--node", "0", "--", "true"],
                      env=base_env(PMNODE_PRELOAD_LIB="/nonexistent/libpmnode-preload.so"))
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--", *show_env_cmd()],
                       env=base_env(PMNODE_PRELOAD_LIB=lib))
    if rc != 0 or out.decode().split("\n")[1] != lib:
        p.append("PMNODE_PRELOAD_LIB=%s not used: %r %r" % (lib, out, err))
    all_or_fail(p)


@case("cli-run-stats")
def t_cli_stats():
    """--stats=REL lands in the caller's directory even when the program
    changes directory; %p in the path gives each process its own file."""
    preload_lib()
    cwd = os.path.join(TMP, "statsdir")
    os.makedirs(cwd)
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--threshold", "0",
                        "--stats=s.json", "--", "sh", "-c", "cd / && ls >/dev/null"], cwd=cwd)
    if rc != 0:
        raise Fail("exit %s: %r" % (rc, err))
    check_stats(os.path.join(cwd, "s.json"))
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--threshold", "0",
                        "--stats=s.%p.json", "--", "sh", "-c", "ls / >/dev/null; cd /; ls >/dev/null"],
                       cwd=cwd)
    if rc != 0:
        raise Fail("exit %s: %r" % (rc, err))
    files = sorted(f for f in os.listdir(cwd) if f.startswith("s.") and f != "s.json")
    log("per-process stats files: %s" % files)
    if len(files) < 2:
        raise Fail("--stats=s.%%p.json: want a file for each ls, got %s" % files)
    for f in files:
        doc = json.load(open(os.path.join(cwd, f)))
        if "s.%d.json" % doc["pid"] != f:
            raise Fail("%s holds the stats of pid %s" % (f, doc["pid"]))
        check_stats(os.path.join(cwd, f))
    # the shim takes a stats path of at most 511 bytes: pmnode run refuses a
    # longer one before the program starts (it used to let the shim die)
    deep = cwd
    while len(deep) + 101 < 400:
        deep = os.path.join(deep, "d" * 100)
    if len(deep) > 400:
        raise Skip("the temporary directory's name is too long for this case")
    os.makedirs(deep)
    longest = deep + "/" + "s" * (510 - len(deep))  # 511 bytes
    rc, out, err = run([ARGS.pmnode, "run", "--node", "0", "--threshold", "0",
                        "--stats=" + longest, "--", "ls", "/"])
    if rc != 0 or err:
        raise Fail("--stats with 511 bytes: exit %s, stderr %r" % (rc, err))
    check_stats(longest)
    p = expect_usage(["--node", "0", "--stats=" + longest + "x", "--", "ls", "/"])
    p += expect_usage(["--node", "0", "--stats=" + deep + "/" + "s" * 200, "--", "ls", "/"])
    if os.path.exists(longest + "x"):
        p.append("the 512-byte stats path was written")
    all_or_fail(p)


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--pmnode", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--preload", default="")
    ap.add_argument("--fixtures", default="")
    ap.add_argument("--python", default="")
    ap.add_argument("case", choices=sorted(CASES))
    ARGS = ap.parse_args()
    ARGS.pmnode = os.path.abspath(ARGS.pmnode)
    if not os.path.isdir("/sys/devices/system/node"):
        log("no NUMA sysfs on this host: skip")
        return SKIP
    TMP = tempfile.mkdtemp(prefix="pmnode-shim-")
    try:
        CASES[ARGS.case]()
    except Skip as e:
        log("skip: %s" % e)
        return SKIP
    except Fail as e:
        log("FAIL %s: %s" % (ARGS.case, e))
        log("(kept %s for inspection)" % TMP)
        return 1
    except subprocess.TimeoutExpired as e:
        log("FAIL %s: timed out: %s" % (ARGS.case, e))
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    log("PASS %s" % ARGS.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
