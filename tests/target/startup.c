/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The target runner's start-up for a Cortex-M under QEMU: the vector table,
 * reset (copy .data, clear .bss, paint the stack, trap unaligned accesses
 * as a Cortex-M0 would), a console and exit through semihosting, and fault
 * handlers that say which fault and end the run with a failure rather than
 * hanging it.
 */
#include <stdint.h>
#include <string.h>

#include "target.h"

extern uint32_t _data_load, _data, _edata, _bss, _ebss, _stack_bottom, _stack_top;
int main(void);

#define STACK_PAINT 0xA5A5A5A5u

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void t_puts(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void t_exit(int code)
{
    uint32_t block[2] = {0x20026u, (uint32_t)code}; /* ADP_Stopped_ApplicationExit */
    semihost(0x20, block);                           /* SYS_EXIT_EXTENDED */
    for (;;)
        ;
}

int t_get_cmdline(char *buf, unsigned cap)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, cap};
    if (semihost(0x15, block)) /* SYS_GET_CMDLINE */
        return -1;
    return (int)block[1];
}

uint32_t t_stack_unused(void)
{
    const uint32_t *p = &_stack_bottom;
    while (p < &_stack_top && *p == STACK_PAINT)
        p++;
    return (uint32_t)((uintptr_t)p - (uintptr_t)&_stack_bottom);
}

uint32_t t_stack_size(void)
{
    return (uint32_t)((uintptr_t)&_stack_top - (uintptr_t)&_stack_bottom);
}

void t_stack_repaint(void)
{
    /* Below the current frame only: what the next test uses is measured. */
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &_stack_bottom; (uintptr_t)p < sp - 256; p++)
        *p = STACK_PAINT;
}

/* No library calls here: a fault in one would lock the core up. frame is
 * the stacked r0-r3, r12, lr, pc, xpsr: say where it happened. */
void fault_report(const uint32_t *frame, uint32_t kind)
{
    static const char *const names[] = {"HardFault", "MemManage", "BusFault", "UsageFault", "unexpected interrupt"};
    char hex[11] = "0x00000000";
    for (int i = 0; i < 8; i++)
        hex[9 - i] = "0123456789abcdef"[(frame[6] >> (4 * i)) & 15];
    t_puts("FAULT: ");
    t_puts(names[kind < 5 ? kind : 4]);
#if __ARM_ARCH_7M__ || __ARM_ARCH_7EM__
    /* CFSR.UNALIGNED; ARMv6-M has no fault status: every fault is a HardFault. */
    t_puts((*(volatile uint32_t *)0xE000ED28u & (1u << 24)) ? " (unaligned access)" : "");
#endif
    t_puts(" at pc ");
    t_puts(hex);
    t_puts("\n");
    t_exit(3);
}

#define HANDLER(name, kind) \
    __attribute__((naked)) void name(void) { __asm__ volatile("mrs r0, msp\n movs r1, #" #kind "\n bl fault_report"); }
/* (bl: in range on ARMv6-M too; it never returns) */
HANDLER(hard_fault, 0)
HANDLER(mem_fault, 1)
HANDLER(bus_fault, 2)
HANDLER(usage_fault, 3)
HANDLER(other_irq, 4)

void reset(void)
{
    memcpy(&_data, &_data_load, (size_t)((uintptr_t)&_edata - (uintptr_t)&_data));
    memset(&_bss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_bss));
#if __ARM_ARCH_7M__ || __ARM_ARCH_7EM__
    /* Trap unaligned word and halfword accesses (CCR.UNALIGN_TRP), and
     * take usage, bus and memory faults as themselves (SHCSR). A
     * Cortex-M0 (ARMv6-M) always faults on them: nothing to switch on. */
    *(volatile uint32_t *)0xE000ED14u |= 1u << 3;
    *(volatile uint32_t *)0xE000ED24u |= 7u << 16;
#endif
    t_stack_repaint();
    t_exit(main());
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_stack_top, reset, other_irq, hard_fault, mem_fault, bus_fault, usage_fault,
    other_irq, other_irq, other_irq, other_irq, other_irq, other_irq, other_irq, other_irq, other_irq};
