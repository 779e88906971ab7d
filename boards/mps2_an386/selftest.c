/* Bring-up self-test: the instruction counter is exact for code of known length at every phase of the timer tick,
 * and the properties of the other clocks documented in docs/m4.md hold. Exit status 0 only if all checks pass. */
#include <stdint.h>

#include "icount.h"
#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile float fp_sink = 1.5f;

int main(void)
{
    int failures = 0;
    m4_icount_init();
    m4_puts("selftest: mps2-an386 bring-up\n");

    /* The FPU is on (a VFP instruction would fault otherwise). */
    fp_sink = fp_sink * 3.0f + 0.25f;
    if (fp_sink != 4.75f) {
        m4_puts("FAIL fpu arithmetic\n");
        ++failures;
    }

    /* Every length 5..261 (all 40 tick phases, several times over) is counted exactly. */
    int sled_bad = 0;
    for (uint32_t n = 0; n <= 256; ++n) {
        uint32_t got = m4_icount_call(m4_icount_sled, (void *)n);
        if (got != n + 5u) {
            if (sled_bad < 5) {
                m4_puts("FAIL sled n=");
                m4_put_u32(n);
                m4_puts(" counted ");
                m4_put_u32(got);
                m4_puts("\n");
            }
            ++sled_bad;
        }
    }
    m4_put_kv("sled_mismatches", sled_bad);
    failures += sled_bad;

    static const uint32_t spins[] = {1u, 7u, 1000u, 12345u, 500000u};
    for (unsigned i = 0; i < sizeof spins / sizeof spins[0]; ++i) {
        uint32_t got = m4_icount_call(m4_icount_spin, (void *)spins[i]);
        if (got != 2u * spins[i] + 1u) {
            m4_puts("FAIL spin n=");
            m4_put_u32(spins[i]);
            m4_puts(" counted ");
            m4_put_u32(got);
            m4_puts("\n");
            ++failures;
        }
    }

    /* SysTick on the processor clock: QEMU drives it from the 25 MHz SYSCLK on the virtual clock, i.e. one tick per
     * 40 instructions under -icount shift=0 (24-bit, so it wraps after 671 M instructions). */
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 5u; /* enable, processor clock, no interrupt */
    uint32_t s0 = SYST_CVR;
    m4_icount_spin((void *)200000u);
    uint32_t s1 = SYST_CVR;
    SYST_CSR = 0u;
    uint32_t systick_ticks = (s0 - s1) & 0x00FFFFFFu;
    m4_put_kv("systick_ticks_per_400001_instructions", (int32_t)systick_ticks);
    if (systick_ticks < 9999u || systick_ticks > 10001u) {
        m4_puts("FAIL systick rate\n");
        ++failures;
    }

    m4_put_kv("failures", failures);
    return failures == 0 ? 0 : 1;
}
