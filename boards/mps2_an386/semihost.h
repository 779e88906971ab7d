/* Semihosting output and exit for QEMU (-semihosting-config enable=on,target=native), plus tiny formatting.
 * No stdio: the firmware stays small and independent of newlib's syscalls. */
#ifndef M4_SEMIHOST_H
#define M4_SEMIHOST_H

#include <stdint.h>

void m4_puts(const char *s);          /* SYS_WRITE0: writes s, no newline added */
void m4_put_u32(uint32_t v);
void m4_put_i32(int32_t v);
void m4_put_hex(uint32_t v);
void m4_put_kv(const char *key, int32_t v);  /* "key=v\n" */
void m4_exit(int status) __attribute__((noreturn));  /* SYS_EXIT_EXTENDED: QEMU exits with `status` */

#endif
