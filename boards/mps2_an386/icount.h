/* Exact guest-instruction counts on QEMU mps2-an386 with -icount shift=0 (see icount.S and docs/m4.md). */
#ifndef M4_ICOUNT_H
#define M4_ICOUNT_H

#include <stdint.h>

/* Starts CMSDK timer0 free-running and calibrates the measurement overhead. Call once before m4_icount_call. */
void m4_icount_init(void);

/* Instructions executed by fn(arg), from its first instruction to its return instruction inclusive. */
uint32_t m4_icount_call(void (*fn)(void *), void *arg);

/* Assembly helpers with known lengths, used for calibration and self-tests. */
uint32_t m4_icount_call_raw(void (*fn)(void *), void *arg);
void m4_icount_empty(void *unused);   /* 1 instruction */
void m4_icount_spin(void *n);         /* 2 n + 1 instructions, n >= 1 */
void m4_icount_sled(void *n);         /* n + 5 instructions, 0 <= n <= 256 */

#endif
