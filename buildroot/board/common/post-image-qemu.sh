#!/bin/sh
# Post-image script of iocinit's QEMU boards (BR2_ROOTFS_POST_IMAGE_SCRIPT):
# writes images/start-qemu.sh from the QEMU line of the board's readme.txt.
# Arguments: the images directory (Buildroot always passes it first), then
# BR2_ROOTFS_POST_SCRIPT_ARGS: the board directory.
# start-qemu.sh passes its own arguments on to QEMU.
set -eu

board_dir=${2:?usage: post-image-qemu.sh BINARIES_DIR BOARD_DIR}
line=$(sed -n 's/^ *\(qemu-system-[^#]*\).*/\1/p' "${board_dir}/readme.txt" | head -n 1)
[ -n "${line}" ] || { echo "post-image-qemu.sh: no qemu-system line in ${board_dir}/readme.txt" >&2; exit 1; }

qemu=$(echo "${line}" | sed 's|output/images/||g')
{
    cat <<'EOS'
#!/bin/sh
# Boots this image under QEMU (written by iocinit's post-image-qemu.sh).
cd "$(dirname "$0")" || exit 1
EOS
    cat <<EOS
PATH="${HOST_DIR}/bin:\${PATH}"
exec ${qemu} "\$@"
EOS
} > "${BINARIES_DIR}/start-qemu.sh"
chmod +x "${BINARIES_DIR}/start-qemu.sh"
