/*
 * emgbridge: the command handling of the MyoWare bridge firmware (PROTOCOL.md section 5),
 * without any hardware access, so that the host test runs it and the Python device model
 * can be checked against it line by line.
 */
#ifndef EMGBRIDGE_H
#define EMGBRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMGBRIDGE_FIRMWARE "1.0.0"
#define EMGBRIDGE_BAUD 500000UL
#define EMGBRIDGE_SPF 10u            /* samples per channel in each data packet */
#define EMGBRIDGE_DEFAULT_FS 1000u   /* Hz */
#define EMGBRIDGE_DEFAULT_CHANNELS 4u
#define EMGBRIDGE_MIN_FS 100u
#define EMGBRIDGE_MAX_FS 8000u
#define EMGBRIDGE_MAX_CONVERSIONS 8000u /* fs x channels per second */
#define EMGBRIDGE_GAIN 200u          /* MyoWare 2.0 RAW output gain */
#define EMGBRIDGE_MAX_LINE 31u       /* characters per command line */
#define EMGBRIDGE_REPLY_CAP 201u     /* reply text + NUL */

/* Actions returned by emgbridge_feed (bit set). */
#define EMGBRIDGE_REPLY 0x01u /* send `reply` as a text packet */
#define EMGBRIDGE_START 0x02u /* start sampling at fs_hz x n_channels, seq from 0 (after sending the reply) */
#define EMGBRIDGE_STOP 0x04u  /* stop sampling, drop unsent data (before sending the reply) */

typedef struct {
    uint16_t fs_hz;
    uint8_t n_channels;
    uint8_t streaming;
    uint8_t adc_bits;
    uint16_t vref_mv;
    const char *mcu;
    char line[EMGBRIDGE_MAX_LINE + 1];
    uint8_t line_len;
    uint8_t too_long;
} emgbridge_state;

/* Defaults after reset: 1000 Hz, 4 channels, stopped. */
void emgbridge_init(emgbridge_state *s, const char *mcu, uint8_t adc_bits, uint16_t vref_mv);
/* "board=myoware fw=... baud=500000" into out (NUL-terminated, cut to cap). Returns the length. */
size_t emgbridge_info(const emgbridge_state *s, char *out, size_t cap);
/* The boot banner "READY <info>". Returns the length. */
size_t emgbridge_banner(const emgbridge_state *s, char *out, size_t cap);
/* One received byte; at the end of a line fills reply (NUL-terminated) and returns EMGBRIDGE_* bits. */
uint8_t emgbridge_feed(emgbridge_state *s, uint8_t c, char *reply, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* EMGBRIDGE_H */
