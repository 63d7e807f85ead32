/*
 * Runs the real firmware image (firmware_bridge_.elf, built for the Uno) in simavr and records
 * what it sends on its serial port, so the Python tests can decode the bytes the firmware
 * actually produces. Built by `make -C firmware_bridge sim` (needs simavr's libsimavr-dev).
 *
 * Usage: sim_uno FIRMWARE.elf UART_OUT.bin ADC_LOG.txt MS:COMMAND...
 *   MS:COMMAND  at MS milliseconds of simulated time, send "COMMAND\n" to the board; the
 *               simulation ends 50 ms after the last command.
 * Every ADC conversion gets a known input: channel c, k-th conversion on that channel:
 *   (c * 1200 + 50 * k) % 5000 mV. ADC_LOG.txt gets one "c mV" line per conversion, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avr_adc.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_irq.h"

static FILE *uart_out;
static FILE *adc_log;
static avr_t *avr;
static unsigned long conversions[8];

static void on_uart_byte(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    fputc((int)(value & 0xFF), uart_out);
}

static void on_adc_start(struct avr_irq_t *irq, uint32_t value, void *param)
{
    union {
        avr_adc_mux_t mux;
        uint32_t v;
    } e;
    unsigned c;
    uint32_t mv;
    (void)irq;
    (void)param;
    e.v = value;
    c = e.mux.src & 7u;
    mv = (uint32_t)((c * 1200u + 50u * conversions[c]) % 5000u);
    conversions[c]++;
    fprintf(adc_log, "%u %u\n", c, mv);
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + c), mv);
}

int main(int argc, char **argv)
{
    elf_firmware_t firmware;
    uint32_t flags = 0;
    int n_cmds = argc - 4;
    int next = 0;
    avr_cycle_count_t end;
    int i;
    if (argc < 5) {
        fprintf(stderr, "usage: %s FIRMWARE.elf UART_OUT.bin ADC_LOG.txt MS:COMMAND...\n", argv[0]);
        return 2;
    }
    memset(&firmware, 0, sizeof firmware);
    if (elf_read_firmware(argv[1], &firmware) != 0) {
        fprintf(stderr, "%s: cannot read the firmware\n", argv[1]);
        return 2;
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "simavr has no atmega328p\n");
        return 2;
    }
    avr_init(avr);
    avr->frequency = 16000000;
    avr->vcc = avr->avcc = avr->aref = 5000;
    avr_load_firmware(avr, &firmware);
    avr->log = LOG_ERROR;

    uart_out = fopen(argv[2], "wb");
    adc_log = fopen(argv[3], "w");
    if (!uart_out || !adc_log) {
        perror("output");
        return 2;
    }
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~AVR_UART_FLAG_STDIO;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_byte, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), on_adc_start, NULL);

    end = (avr_cycle_count_t)(atol(argv[argc - 1]) + 50) * 16000;
    while (avr->cycle < end) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "firmware stopped (state %d) at cycle %llu\n", state, (unsigned long long)avr->cycle);
            return 1;
        }
        if (next < n_cmds && avr->cycle >= (avr_cycle_count_t)atol(argv[4 + next]) * 16000) {
            const char *cmd = strchr(argv[4 + next], ':');
            avr_irq_t *rx = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
            for (cmd = cmd ? cmd + 1 : ""; *cmd; cmd++) {
                avr_raise_irq(rx, (uint8_t)*cmd);
            }
            avr_raise_irq(rx, '\n');
            next++;
        }
    }
    fclose(uart_out);
    fclose(adc_log);
    for (i = 0; i < 4; i++) {
        printf("channel %d: %lu conversions\n", i, conversions[i]);
    }
    return 0;
}
