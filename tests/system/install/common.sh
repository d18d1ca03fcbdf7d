# common.sh - sourced by check-install.sh, check-static.sh and
# check-cmake.sh (set NAME first: every message starts "NAME: "): a scratch
# directory removed on exit, the build installed into it, and the
# sanitizer the installed library was built with.

say() { echo "$NAME: $*"; }
fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }

# scratch WHAT: $tmp (removed on exit) and $dest, the install root in it.
scratch() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-$1.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 1' INT TERM HUP
    dest=$tmp/root
}

# install_dest BUILD MESON: meson install of BUILD into $dest.
install_dest() {
    "$2" install -C "$1" --no-rebuild --quiet --destdir "$dest" || fail "meson install failed"
}

# sanitizer_of LIB: $san, the -fsanitize= list LIB was built with (empty
# for none): a consumer of a -Db_sanitize build needs the same runtime
# first in the program.
sanitizer_of() {
    san=
    command -v ldd >/dev/null 2>&1 || return 0
    deps=$(ldd "$1" 2>/dev/null || true)
    case $deps in *libasan*) san=address ;; esac
    case $deps in *libubsan*) san=${san:+$san,}undefined ;; esac
    case $deps in *libtsan*) san=thread ;; esac
}
