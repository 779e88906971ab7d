#include "semihost.h"

#define SYS_WRITE0 0x04u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* The M-profile semihosting trap is BKPT 0xAB: r0 = operation, r1 = parameter, result in r0. */
static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void m4_puts(const char *s) { (void)semihost_call(SYS_WRITE0, s); }

void m4_put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    m4_puts(&buf[i]);
}

void m4_put_i32(int32_t v)
{
    if (v < 0) {
        m4_puts("-");
        m4_put_u32(0u - (uint32_t)v);
    } else {
        m4_put_u32((uint32_t)v);
    }
}

void m4_put_hex(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11] = "0x";
    for (int i = 0; i < 8; ++i) buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xFu];
    buf[10] = '\0';
    m4_puts(buf);
}

void m4_put_kv(const char *key, int32_t v)
{
    m4_puts(key);
    m4_puts("=");
    m4_put_i32(v);
    m4_puts("\n");
}

void m4_exit(int status)
{
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
