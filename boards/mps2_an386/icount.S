/* Exact instruction counting on QEMU mps2-an386 run with -icount shift=0.
 *
 * With shift=0 every guest instruction advances QEMU's virtual clock by exactly 1 ns. The CMSDK APB timer0
 * runs from the 25 MHz PCLK on that clock, so its down-counting VALUE register changes once per 40 instructions.
 * PHASE below resolves where the current position lies inside such a 40-instruction tick to one instruction:
 *   1. poll VALUE (4 instructions per iteration) until it changes; the read that saw the change (read_m) lies
 *      q = 0..3 instructions after the edge;
 *   2. run straight-line code so that three consecutive reads sit 37, 38 and 39 instructions after read_m; the next
 *      edge (40 - q after read_m) is seen by exactly q of them, and each read is either v or v - 1, so
 *      q = 3v - r4 - r5 - r6 without any branch.
 * Position of read_m = 40 * (ticks elapsed) + q = q - 40 * v (mod 2^32, up to a constant). Everything after
 * read_m has a fixed length, so the position after PHASE is known too; the entry position is read_m - 4 m + const.
 */
    .syntax unified
    .cpu cortex-m4
    .thumb

    .equ TIMER0_VALUE, 0x40000004

.macro PHASE dst, at_entry
    ldr   r3, =TIMER0_VALUE
    ldr   r1, [r3]
    movs  r2, #0
1:  ldr   r0, [r3]
    adds  r2, r2, #1
    cmp   r0, r1
    beq   1b
    .rept 33
    nop
    .endr
    ldr   r4, [r3]
    ldr   r5, [r3]
    ldr   r6, [r3]
    subs  r4, r0, r4
    subs  r5, r0, r5
    subs  r6, r0, r6
    adds  r4, r4, r5
    adds  r4, r4, r6
    movs  r7, #40
    mul   r7, r0, r7
    subs  \dst, r4, r7
    .if \at_entry
    sub   \dst, \dst, r2, lsl #2
    .endif
.endm

/* uint32_t m4_icount_call_raw(void (*fn)(void *), void *arg): calls fn(arg) between two PHASE blocks and returns
 * the instruction distance between them (fn's instructions plus a constant that m4_icount_call calibrates). */
    .text
    .global m4_icount_call_raw
    .type m4_icount_call_raw, %function
    .thumb_func
m4_icount_call_raw:
    push  {r3-r11, lr}          @ 10 registers keep sp 8-byte aligned for the call
    mov   r10, r0
    mov   r11, r1
    PHASE r8, 0
    mov   r0, r11
    blx   r10
    PHASE r9, 1
    sub   r0, r9, r8
    pop   {r3-r11, pc}
    .ltorg
    .size m4_icount_call_raw, . - m4_icount_call_raw

/* void m4_icount_empty(void *): exactly one instruction, for calibration. */
    .global m4_icount_empty
    .type m4_icount_empty, %function
    .thumb_func
m4_icount_empty:
    bx    lr
    .size m4_icount_empty, . - m4_icount_empty

/* void m4_icount_spin(void *n): exactly 2 n + 1 instructions (n >= 1). */
    .global m4_icount_spin
    .type m4_icount_spin, %function
    .thumb_func
m4_icount_spin:
1:  subs  r0, r0, #1
    bne   1b
    bx    lr
    .size m4_icount_spin, . - m4_icount_spin

/* void m4_icount_sled(void *n): exactly n + 5 instructions (0 <= n <= 256): jumps n 16-bit NOPs before the end. */
    .global m4_icount_sled
    .type m4_icount_sled, %function
    .thumb_func
m4_icount_sled:
    adr   r1, 2f
    sub   r1, r1, r0, lsl #1
    orr   r1, r1, #1
    bx    r1
    .rept 256
    nop
    .endr
2:  bx    lr
    .size m4_icount_sled, . - m4_icount_sled
