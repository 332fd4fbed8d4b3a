#!/usr/bin/env bash
# The whole elfext test suite. Installs what it needs on a fresh Debian/Ubuntu machine
# (rustup targets; clang, the cross toolchains, picolibc and QEMU through apt when run as
# root), then checks formatting and lints, builds the no_std core and the firmware for the
# microcontroller targets, and runs every test, the firmware under QEMU included.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
# Every test run's output, for the closing count.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add thumbv7em-none-eabi riscv32imac-unknown-none-elf
if ! command -v gcc >/dev/null; then
    echo "gcc is required (the tests compile extension sources with it)" >&2
    exit 1
fi
# clang, and the cross toolchains whose GNU ld is the relocation oracle for each architecture.
need=()
command -v clang >/dev/null || need+=(clang)
command -v riscv64-unknown-elf-gcc >/dev/null || need+=(gcc-riscv64-unknown-elf)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
# picolibc: the firmware's libc extension pulls string and stdlib members from its libc.a.
[ -d /usr/lib/picolibc/arm-none-eabi ] || need+=(picolibc-arm-none-eabi)
[ -d /usr/lib/picolibc/riscv64-unknown-elf ] || need+=(picolibc-riscv64-unknown-elf)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "note: cannot install ${need[*]}; the tests that need them say so and skip" >&2
    fi
fi

# QEMU for the firmware tests (Cortex-M4 and RV32 boards).
./scripts/qemu.sh

step "format"
cargo fmt --all --check
(cd firmware && cargo fmt --check)

step "lints"
cargo clippy --workspace --all-targets --features elfext/std -- -D warnings

step "firmware lints (Cortex-M4 and RV32)"
if command -v arm-none-eabi-gcc >/dev/null && command -v riscv64-unknown-elf-gcc >/dev/null; then
    for target in thumbv7em-none-eabi riscv32imac-unknown-none-elf; do
        (cd firmware && CARGO_TARGET_DIR=../target/firmware cargo clippy --release --target "$target" -- -D warnings)
    done
else
    echo "note: no cross gcc: the firmware (which builds its test extensions with it) is not linted"
fi

step "docs (every public item documented, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features elfext/std

step "no_std core for Cortex-M4 and RV32"
for target in thumbv7em-none-eabi riscv32imac-unknown-none-elf; do
    cargo build -p elfext --target "$target"
    cargo build -p elfext --target "$target" --no-default-features
    cargo build -p elfext --target "$target" --no-default-features --features combine
done

step "the core's unit tests and the memory map's model tests without std and default features"
cargo test -p elfext --no-default-features --lib --test memory_map 2>&1 | tee -a "$log"

step "benchmarks compile and run once"
cargo bench -p elfext --features std --bench load -- --test
cargo bench -p elfext --features std --bench arch -- --test
cargo bench -p elfext --features std --bench map -- --test
cargo bench -p elfext --features std --bench snapshot -- --test

step "tests"
# As root every tool was installed above: a firmware test that finds one missing fails
# instead of skipping.
if [ "$(id -u)" = 0 ]; then export ELFEXT_REQUIRE_QEMU=1; fi
cargo test --workspace --features elfext/std 2>&1 | tee -a "$log"
# One closing line for the whole suite, summed over every test binary and doc-test run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\nall tests: %d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }' "$log"
