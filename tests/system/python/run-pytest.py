#!/usr/bin/env python3
"""run-pytest.py - the Python binding's test suite (meson suite 'python').

usage: run-pytest.py SOURCE_ROOT WORK_DIR LIBPMNODE_SO [PMNODE_CLI]

Runs with any python3 (standard library only) and does, with
/usr/bin/python3 (or $PMN_TEST_PYTHON), what a user would:

  1. checks that interpreter has pytest, venv+ensurepip and setuptools;
     when one is missing, prints why and exits 77 (meson: skipped);
  2. creates WORK_DIR/venv with --system-site-packages (reused on the
     next run while it still works, re-created otherwise);
  3. copies SOURCE_ROOT/bindings/python to WORK_DIR/src (so the build
     writes nothing into the checkout) and installs it offline:
     pip install --no-build-isolation --no-index;
  4. runs pytest on SOURCE_ROOT/tests/system/python with that venv's python,
     PMNODE_LIBRARY pointing at the freshly built LIBPMNODE_SO and no other
     PMNODE_* or HWLOC_* variable; the pytest summary is the last line.

Exit status: pytest's (0 all passed), 77 skipped, 2 bad usage.
"""
import os
import shutil
import subprocess
import sys

SKIP = 77


def say(msg):
    print("run-pytest: " + msg, flush=True)


def skip(msg):
    say("SKIP: " + msg)
    sys.exit(SKIP)


def probe(python, code):
    """(True, "") when ``python -c code`` succeeds, else (False, why)."""
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True)
    except OSError as e:
        return False, str(e)
    return p.returncode == 0, (p.stderr.strip().splitlines() or [""])[-1]


def venv_usable(venv, python):
    """True when venv exists, runs, and was made from ``python`` with
    system site packages."""
    cfg = os.path.join(venv, "pyvenv.cfg")
    vpy = os.path.join(venv, "bin", "python")
    try:
        with open(cfg) as f:
            lines = dict(line.split("=", 1) for line in f if "=" in line)
    except OSError:
        return False
    lines = {k.strip(): v.strip() for k, v in lines.items()}
    if lines.get("home") != os.path.dirname(python) or \
            lines.get("include-system-site-packages") != "true":
        return False
    ok, _ = probe(vpy, "import pip, pytest")
    return ok


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    source, work, lib = (os.path.abspath(a) for a in argv[1:4])
    cli = os.path.abspath(argv[4]) if len(argv) == 5 else None
    python = os.environ.get("PMN_TEST_PYTHON", "/usr/bin/python3")
    pkg = os.path.join(source, "bindings", "python")
    tests = os.path.join(source, "tests", "system", "python")

    if not os.access(python, os.X_OK):
        skip("%s not found (the suite runs with the system interpreter)" % python)
    for module, package in (("pytest", "python3-pytest"), ("venv, ensurepip", "python3-venv"),
                            ("setuptools", "python3-setuptools")):
        ok, why = probe(python, "import " + module)
        if not ok:
            skip("%s cannot import %s (%s): apt-get install %s" % (python, module, why, package))
    if not os.path.exists(lib):
        say("%s does not exist: build first (ninja -C BUILD)" % lib)
        return 2

    os.makedirs(work, exist_ok=True)
    venv = os.path.join(work, "venv")
    vpy = os.path.join(venv, "bin", "python")
    if venv_usable(venv, python):
        say("reusing %s" % venv)
    else:
        say("creating %s" % venv)
        subprocess.run([python, "-m", "venv", "--clear", "--system-site-packages", venv],
                       check=True)

    src = os.path.join(work, "src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(pkg, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMNODE_", "HWLOC_", "PIP_", "PYTHON"))}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "PYTHONDONTWRITEBYTECODE": "1"})
    say("installing %s offline" % pkg)
    subprocess.run([vpy, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                    "--no-index", "--no-deps", "--force-reinstall", src],
                   check=True, env=env, cwd=work)

    env["PMNODE_LIBRARY"] = lib
    env["PMN_EXPECT_INSTALLED"] = "1"
    if cli:
        env["PMN_PMNODE_CLI"] = cli
    say("pytest with %s, PMNODE_LIBRARY=%s" % (vpy, lib))
    # -p no:cacheprovider and no bytecode: nothing is written into the
    # checkout.  tests/system/python holds no pmnode package, so `import pmnode`
    # finds the installed one (test_library.py checks).
    return subprocess.run([vpy, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rs",
                           "--rootdir", tests, "."], env=env, cwd=tests).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
