#!/bin/sh
# publish-secure.sh HELPER - run publish-secure.c's binary set-user-ID to
# nobody (as root: the kernel then sets AT_SECURE, real uid 0, effective uid
# nobody) with XDG_RUNTIME_DIR pointing at a directory of the caller's; the
# helper checks pmn_publish refuses by default, and publishes only under
# /dev/shm/pmnode-EUID when asked.  Nothing may appear in XDG_RUNTIME_DIR.
# Exit 0 pass, 1 fail, 77 skip (not root, no nobody user, a nosuid /tmp, or
# a sanitizer build, whose runtime does not run set-user-ID).
set -u
helper=$1

[ "$(id -u)" = 0 ] || { echo "skip: needs root to make a set-user-ID copy"; exit 77; }
nobody=$(id -u nobody 2>/dev/null) || { echo "skip: no user nobody"; exit 77; }
if ldd "$helper" 2>/dev/null | grep -q 'lib[at]san'; then
    echo "skip: sanitizer build (its runtime refuses set-user-ID programs)"; exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-suid.XXXXXX") || exit 1
shm=/dev/shm/pmnode-$nobody
had_shm=no
[ -e "$shm" ] && had_shm=yes
cleanup() {
    rm -rf "$tmp"
    [ "$had_shm" = no ] && rm -rf "$shm"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
case $(findmnt -no OPTIONS --target "$tmp" 2>/dev/null) in
*nosuid*) echo "skip: $tmp is mounted nosuid"; exit 77 ;;
esac
chmod 755 "$tmp"
mkdir "$tmp/xdg"
cp "$helper" "$tmp/publish-secure"
chown "$nobody" "$tmp/publish-secure"
chmod 4755 "$tmp/publish-secure"
cd "$tmp" || exit 1
XDG_RUNTIME_DIR=$tmp/xdg ./publish-secure
rc=$?
if [ -n "$(ls -A "$tmp/xdg")" ]; then
    echo "FAIL something was written under XDG_RUNTIME_DIR in secure mode:"
    ls -laR "$tmp/xdg"
    rc=1
fi
exit $rc
