#!/usr/bin/env bash
# Make qemu-system-arm and qemu-system-riscv32 available for the firmware tests.
#
# Uses the ones on PATH when present. Else, as root with apt: installs them; where that
# fails (some images ship a newer qemu-utils that conflicts with the distribution's
# qemu-system-common), downloads the distribution's packages and unpacks them into
# build/qemu/, where the tests find them (crates/board/src/lib.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v qemu-system-arm >/dev/null && command -v qemu-system-riscv32 >/dev/null; }
unpacked=build/qemu
if have || [ -x "$unpacked/usr/bin/qemu-system-riscv32" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: no QEMU and no apt as root: install qemu-system-arm and qemu-system-misc" >&2
    exit 0
fi
apt-get update -qq
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm qemu-system-misc >/dev/null 2>&1 && have; then
    exit 0
fi
echo "apt-get install of QEMU failed here; unpacking the distribution's packages into $unpacked"
debs="$(mktemp -d)"
trap 'rm -rf "$debs"' EXIT
chmod 755 "$debs"
(cd "$debs" && apt-get download -qq qemu-system-arm qemu-system-misc qemu-system-data \
    libfdt1 libcapstone4 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 libndctl6 \
    libdaxctl1 libnl-3-200 libnl-route-3-200 2>/dev/null)
rm -rf "$unpacked.tmp"
mkdir -p "$unpacked.tmp"
for deb in "$debs"/*.deb; do
    dpkg -x "$deb" "$unpacked.tmp"
done
rm -rf "$unpacked"
mv "$unpacked.tmp" "$unpacked"
LD_LIBRARY_PATH="$unpacked/usr/lib/x86_64-linux-gnu:$unpacked/lib/x86_64-linux-gnu" \
    "$unpacked/usr/bin/qemu-system-riscv32" --version | head -n 1
