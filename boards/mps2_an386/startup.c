/* Vector table and reset handler for the Cortex-M4 of QEMU's mps2-an386. */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[], __stack_top[];
/* Called as a hosted program would be (argc 1), since the C core's test runner reads argc/argv. */
extern int main(int argc, char **argv);

/* Firmware that uses stdio links syscalls.c, whose strong definition flushes it before the exit trap. */
__attribute__((weak)) void m4_before_exit(void) {}

void m4_reset_handler(void);
void m4_fault_handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)

/* 16 system exceptions; no peripheral interrupt is ever enabled, so no IRQ vectors are needed. */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    m4_reset_handler,
    m4_fault_handler, /* NMI */
    m4_fault_handler, /* HardFault */
    m4_fault_handler, /* MemManage */
    m4_fault_handler, /* BusFault */
    m4_fault_handler, /* UsageFault */
    0, 0, 0, 0,
    m4_fault_handler, /* SVCall */
    m4_fault_handler, /* DebugMonitor */
    0,
    m4_fault_handler, /* PendSV */
    m4_fault_handler, /* SysTick */
};

void m4_fault_handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    m4_puts("FAULT: exception ");
    m4_put_u32(ipsr & 0x1FFu);
    m4_puts(" CFSR=");
    m4_put_hex(SCB_CFSR);
    m4_puts(" HFSR=");
    m4_put_hex(SCB_HFSR);
    m4_puts(" BFAR=");
    m4_put_hex(SCB_BFAR);
    m4_puts("\n");
    m4_exit(125);
}

/* No FP instruction may run before CPACR grants CP10/CP11 access: this function is compiled without any float
 * code and the copy loops are plain word moves. */
__attribute__((noreturn)) void m4_reset_handler(void)
{
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0u;

    static char prog[] = "firmware";
    static char *argv[] = {prog, 0};
    const int status = main(1, argv);
    m4_before_exit();
    m4_exit(status);
}
