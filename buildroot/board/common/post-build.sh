#!/bin/sh
# Post-build script of iocinit's boards (BR2_ROOTFS_POST_BUILD_SCRIPT),
# run after the rootfs/ overlay is copied: fails the build when the image
# would not boot iocinit, rather than leaving it to the first boot.
# Arguments (BR2_ROOTFS_POST_SCRIPT_ARGS) are not used.
set -eu

fail() {
    echo "iocinit post-build: $*" >&2
    exit 1
}

# iocinit owns /sbin/init (installed after BusyBox, whose link it replaces).
[ "$(readlink "${TARGET_DIR}/sbin/init")" = "iocinit" ] ||
    fail "/sbin/init is not a link to iocinit"
[ -x "${TARGET_DIR}/sbin/iocinit" ] || fail "/sbin/iocinit is missing"
[ -f "${TARGET_DIR}/etc/epoch/epoch.conf" ] ||
    fail "/etc/epoch/epoch.conf is missing (the rootfs/ overlay provides one)"

# The console object of epoch.conf runs a shell through BusyBox cttyhack
# (BusyBox installs a link per applet; its binary is for the target).
if grep -q console-shell "${TARGET_DIR}/etc/epoch/epoch.conf"; then
    [ -e "${TARGET_DIR}/bin/cttyhack" ] || [ -e "${TARGET_DIR}/usr/bin/cttyhack" ] ||
        fail "BusyBox has no cttyhack (board/common/busybox.fragment)"
fi
