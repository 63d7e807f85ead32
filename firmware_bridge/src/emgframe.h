/*
 * emgframe: packet layout, CRC-16/CCITT-FALSE and COBS framing of the MyoWare bridge
 * protocol (firmware_bridge/PROTOCOL.md, version 1).
 *
 * Plain C99 with no allocation and no I/O: compiled into the Arduino sketch (AVR, ESP32)
 * and into the host-side test program (tests/test_emgframe.c) with gcc.
 */
#ifndef EMGFRAME_H
#define EMGFRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMGFRAME_VERSION 1u
#define EMGFRAME_TYPE_DATA 0x01u
#define EMGFRAME_TYPE_TEXT 0x02u

#define EMGFRAME_HEADER_SIZE 14u /* version .. t_us of a data packet */
#define EMGFRAME_CRC_SIZE 2u
#define EMGFRAME_MAX_CHANNELS 4u
#define EMGFRAME_MAX_SAMPLES 50u /* samples per channel in one data packet */
#define EMGFRAME_MAX_TEXT 200u   /* characters in one text reply */
#define EMGFRAME_MIN_BITS 8u
#define EMGFRAME_MAX_BITS 16u

#define EMGFRAME_STATUS_OVERRUN 0x01u /* packets were dropped on the device before this one */
#define EMGFRAME_STATUS_LATE 0x02u    /* a tick in this packet was sampled late or missed */

/* Decoded packet length of a data packet with n_channels x n_samples values. */
#define EMGFRAME_DATA_SIZE(n_channels, n_samples) \
    (EMGFRAME_HEADER_SIZE + 2u * (n_channels) * (n_samples) + EMGFRAME_CRC_SIZE)
#define EMGFRAME_TEXT_SIZE(n_chars) (2u + (n_chars) + EMGFRAME_CRC_SIZE)
/* Worst-case COBS output for n input bytes (no delimiter). */
#define EMGFRAME_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* Largest decoded packet and its wire size (COBS + the 0x00 delimiter). */
#define EMGFRAME_MAX_PACKET EMGFRAME_DATA_SIZE(EMGFRAME_MAX_CHANNELS, EMGFRAME_MAX_SAMPLES)
#define EMGFRAME_MAX_WIRE(n) (EMGFRAME_COBS_MAX(n) + 1u)

/* Why a packet was rejected (negative return values of emgframe_parse). */
#define EMGFRAME_ERR_LENGTH (-1)
#define EMGFRAME_ERR_CRC (-2)
#define EMGFRAME_ERR_VERSION (-3)
#define EMGFRAME_ERR_TYPE (-4)
#define EMGFRAME_ERR_FIELD (-5)

typedef struct {
    uint8_t n_channels; /* 1-4 */
    uint8_t n_samples;  /* samples per channel, 1-50 */
    uint8_t adc_bits;   /* 8-16 */
    uint8_t status;     /* EMGFRAME_STATUS_* bits */
    uint16_t vref_mv;   /* ADC reference, mV */
    uint16_t seq;       /* packet sequence number, wraps at 65536 */
    uint32_t t_us;      /* device clock at the first sample's tick, µs */
} emgframe_data_header;

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0; "123456789" -> 0x29B1. */
uint16_t emgframe_crc16(const uint8_t *data, size_t len);
/* Continue a CRC over more bytes (start with 0xFFFF). */
uint16_t emgframe_crc16_update(uint16_t crc, const uint8_t *data, size_t len);

/* COBS-encode len bytes into dst (room for EMGFRAME_COBS_MAX(len)); no delimiter. Returns the length. */
size_t emgframe_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst);
/* COBS-decode one piece (no delimiter) into dst (cap bytes). Returns the length, or -1 when malformed. */
int32_t emgframe_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);

/* A data packet (header, samples sample-major, CRC) into packet (EMGFRAME_DATA_SIZE bytes). Returns the length. */
size_t emgframe_build_data(const emgframe_data_header *h, const uint16_t *samples, uint8_t *packet);
/* A text reply packet; len is cut to EMGFRAME_MAX_TEXT. Returns the length. */
size_t emgframe_build_text(const char *text, size_t len, uint8_t *packet);
/* COBS-encode a packet and append the 0x00 delimiter (wire needs EMGFRAME_MAX_WIRE(len)). Returns the length. */
size_t emgframe_to_wire(const uint8_t *packet, size_t len, uint8_t *wire);

/*
 * Check a decoded packet. Returns EMGFRAME_TYPE_DATA (h filled, *body = first sample byte,
 * *body_len = 2 x n_channels x n_samples), EMGFRAME_TYPE_TEXT (*body = text, *body_len =
 * characters; h untouched), or a negative EMGFRAME_ERR_* code.
 */
int emgframe_parse(const uint8_t *packet, size_t len, emgframe_data_header *h,
                   const uint8_t **body, size_t *body_len);

#ifdef __cplusplus
}
#endif

#endif /* EMGFRAME_H */
