"""Loading the library, its version, the ABI coverage, and the error model."""
import errno
import os
import re
import subprocess
import sys

import pytest

import pmnode
from pmnode import _lib, errors
from conftest import REPO


def test_version_is_the_library_one():
    v = pmnode.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    header = (REPO / "include" / "pmnode.h").read_text()
    assert '#define PMN_VERSION_STRING "%s"' % v in header
    assert v.split(".")[:2] == pmnode.__version__.split(".")[:2]


def test_library_comes_from_pmnode_library():
    want = os.environ.get("PMNODE_LIBRARY")
    if not want:
        pytest.skip("PMNODE_LIBRARY is not set")
    assert pmnode.LIBRARY_PATH == want


def test_installed_package_is_tested():
    if os.environ.get("PMN_EXPECT_INSTALLED") != "1":
        pytest.skip("run from the source tree (run-pytest.py tests the installed package)")
    assert pmnode.__file__.startswith(sys.prefix + os.sep), pmnode.__file__
    assert "site-packages" in pmnode.__file__


def test_bad_pmnode_library_fails_import_clearly(tmp_path):
    env = dict(os.environ, PMNODE_LIBRARY=str(tmp_path / "nope.so"))
    p = subprocess.run([sys.executable, "-c", "import pmnode"], env=env, capture_output=True,
                       text=True)
    assert p.returncode != 0
    assert "ImportError" in p.stderr
    assert "PMNODE_LIBRARY" in p.stderr and "nope.so" in p.stderr


def test_every_exported_function_is_bound_or_explained():
    """The binding covers the C API: each symbol of the linker version
    script has a prototype, or a reason in UNBOUND."""
    text = (REPO / "libpmnode" / "libpmnode.map").read_text()
    exported = set(re.findall(r"^\s*(pmn_\w+);", text, re.M))
    assert len(exported) > 100
    missing = exported - _lib.BOUND - set(_lib.UNBOUND)
    assert not missing, "exported but neither bound nor explained: %s" % sorted(missing)
    assert not (_lib.BOUND - exported), "bound but not exported"


def test_every_prototype_is_declared():
    for name in _lib.BOUND:
        fn = getattr(_lib.LIB, name)
        assert fn.argtypes is not None, name


# ---- errors ----

def test_library_codes_match_the_header_and_the_library():
    header = (REPO / "include" / "pmnode.h").read_text()
    in_header = dict((m[0], int(m[1])) for m in re.findall(r"X\((\w+), (\d+), \"", header))
    assert in_header == errors.LIBRARY_ERRORS
    for name, n in errors.LIBRARY_ERRORS.items():
        code = -(errors.ERRNO_BASE + n)
        assert getattr(pmnode, "E_" + name) == code
        assert pmnode.err_name(code) == "PMN_E_" + name
        assert pmnode.strerror(code) not in ("", "unknown error")


def test_errno_names_and_messages():
    assert pmnode.err_name(-errno.ENOMEM) == "ENOMEM"
    assert pmnode.err_name(errno.ENOMEM) == "ENOMEM"
    assert pmnode.strerror(0) == "success"
    assert pmnode.strerror(-123456789) == "unknown error"
    assert pmnode.err_name(-123456789) == "unknown"
    assert "another machine" in pmnode.strerror(pmnode.E_REMOTE_ROOT)


@pytest.mark.parametrize("code, cls, builtin", [
    (-errno.ENOMEM, pmnode.OutOfMemoryError, MemoryError),
    (pmnode.E_NODE_FULL, pmnode.OutOfMemoryError, MemoryError),
    (pmnode.E_TIER_FULL, pmnode.OutOfMemoryError, MemoryError),
    (-errno.EINVAL, pmnode.InvalidArgumentError, ValueError),
    (pmnode.E_CONFIG, pmnode.InvalidArgumentError, ValueError),
    (pmnode.E_NO_NODE, pmnode.NotFoundError, LookupError),
    (-errno.ENOENT, pmnode.NotFoundError, LookupError),
    (pmnode.E_DOUBLE_FREE, pmnode.MisuseError, ValueError),
    (pmnode.E_REMOTE_ROOT, pmnode.NotSupportedError, pmnode.Error),
    (-errno.EBUSY, pmnode.BusyError, pmnode.Error),
    (pmnode.E_INCOMPRESSIBLE, pmnode.IncompressibleError, pmnode.Error),
    (pmnode.E_MISPLACED, pmnode.PlacementError, pmnode.Error),
    (pmnode.E_UNKNOWN, pmnode.UnknownValueError, pmnode.Error),
    (-errno.EACCES, pmnode.PermissionDeniedError, pmnode.Error),
])
def test_codes_map_to_exception_classes(code, cls, builtin):
    e = errors.make_error(code, "some_call")
    assert type(e) is cls
    assert isinstance(e, builtin) and isinstance(e, pmnode.Error)
    assert e.code == code
    assert e.name == pmnode.err_name(code)
    assert e.strerror == pmnode.strerror(code)
    assert str(e).startswith("some_call: ") and e.name in str(e)


def test_unmapped_code_is_plain_error():
    e = errors.make_error(-errno.EIO)
    assert type(e) is pmnode.Error and e.name == "EIO"
