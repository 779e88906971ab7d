#!/bin/sh
# Runs one firmware image in QEMU's mps2-an386 (Cortex-M4F) with exact instruction timing.
# Usage: run.sh firmware.elf [timeout-seconds]. Exit status is the firmware's (semihosting SYS_EXIT_EXTENDED),
# 124 on timeout, 125 if the firmware hit a fault handler.
set -eu
elf=$1
limit=${2:-120}
exec timeout "$limit" qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf"
