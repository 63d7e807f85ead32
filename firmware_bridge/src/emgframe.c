/* emgframe: see emgframe.h and firmware_bridge/PROTOCOL.md. */
#include "emgframe.h"

uint16_t emgframe_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    uint8_t bit;
    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t emgframe_crc16(const uint8_t *data, size_t len)
{
    return emgframe_crc16_update(0xFFFFu, data, len);
}

size_t emgframe_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t code_at = 0; /* where the current block's code byte goes */
    size_t out = 1;
    uint8_t code = 1;
    size_t i;
    for (i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[i];
            code++;
            /* a full block of 254 non-zero bytes; start another only if input follows */
            if (code == 0xFFu && i + 1 < len) {
                dst[code_at] = code;
                code_at = out++;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    return out;
}

int32_t emgframe_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    size_t i = 0;
    size_t out = 0;
    while (i < len) {
        uint8_t code = src[i++];
        uint8_t k;
        if (code == 0) {
            return -1;
        }
        for (k = 1; k < code; k++) {
            if (i >= len || src[i] == 0 || out >= cap) {
                return -1;
            }
            dst[out++] = src[i++];
        }
        if (code != 0xFFu && i < len) {
            if (out >= cap) {
                return -1;
            }
            dst[out++] = 0;
        }
    }
    return (int32_t)out;
}

static void put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static size_t finish(uint8_t *packet, size_t len)
{
    uint16_t crc = emgframe_crc16(packet, len);
    packet[len] = (uint8_t)(crc >> 8); /* most significant byte first */
    packet[len + 1] = (uint8_t)(crc & 0xFFu);
    return len + EMGFRAME_CRC_SIZE;
}

size_t emgframe_build_data(const emgframe_data_header *h, const uint16_t *samples, uint8_t *packet)
{
    size_t n = (size_t)h->n_channels * h->n_samples;
    size_t i;
    uint8_t *p = packet;
    p[0] = EMGFRAME_VERSION;
    p[1] = EMGFRAME_TYPE_DATA;
    p[2] = h->n_channels;
    p[3] = h->n_samples;
    p[4] = h->adc_bits;
    p[5] = h->status;
    put_u16le(p + 6, h->vref_mv);
    put_u16le(p + 8, h->seq);
    put_u16le(p + 10, (uint16_t)(h->t_us & 0xFFFFu));
    put_u16le(p + 12, (uint16_t)(h->t_us >> 16));
    p += EMGFRAME_HEADER_SIZE;
    for (i = 0; i < n; i++) {
        put_u16le(p, samples[i]);
        p += 2;
    }
    return finish(packet, (size_t)(p - packet));
}

size_t emgframe_build_text(const char *text, size_t len, uint8_t *packet)
{
    size_t i;
    if (len > EMGFRAME_MAX_TEXT) {
        len = EMGFRAME_MAX_TEXT;
    }
    packet[0] = EMGFRAME_VERSION;
    packet[1] = EMGFRAME_TYPE_TEXT;
    for (i = 0; i < len; i++) {
        packet[2 + i] = (uint8_t)text[i];
    }
    return finish(packet, 2 + len);
}

size_t emgframe_to_wire(const uint8_t *packet, size_t len, uint8_t *wire)
{
    size_t n = emgframe_cobs_encode(packet, len, wire);
    wire[n] = 0;
    return n + 1;
}

int emgframe_parse(const uint8_t *packet, size_t len, emgframe_data_header *h,
                   const uint8_t **body, size_t *body_len)
{
    size_t n_values;
    size_t i;
    uint16_t limit_minus_1;
    if (len < 4) {
        return EMGFRAME_ERR_LENGTH;
    }
    if (emgframe_crc16(packet, len) != 0) { /* CRC sent MSB first: the residue is 0 */
        return EMGFRAME_ERR_CRC;
    }
    if (packet[0] != EMGFRAME_VERSION) {
        return EMGFRAME_ERR_VERSION;
    }
    if (packet[1] == EMGFRAME_TYPE_TEXT) {
        size_t n_chars = len - 2 - EMGFRAME_CRC_SIZE;
        if (n_chars < 1 || n_chars > EMGFRAME_MAX_TEXT) {
            return EMGFRAME_ERR_LENGTH;
        }
        for (i = 0; i < n_chars; i++) {
            if (packet[2 + i] < 0x20u || packet[2 + i] > 0x7Eu) {
                return EMGFRAME_ERR_FIELD;
            }
        }
        *body = packet + 2;
        *body_len = n_chars;
        return EMGFRAME_TYPE_TEXT;
    }
    if (packet[1] != EMGFRAME_TYPE_DATA) {
        return EMGFRAME_ERR_TYPE;
    }
    if (len < EMGFRAME_HEADER_SIZE + EMGFRAME_CRC_SIZE) {
        return EMGFRAME_ERR_LENGTH;
    }
    if (packet[2] < 1 || packet[2] > EMGFRAME_MAX_CHANNELS || packet[3] < 1 ||
        packet[3] > EMGFRAME_MAX_SAMPLES || packet[4] < EMGFRAME_MIN_BITS ||
        packet[4] > EMGFRAME_MAX_BITS || (packet[5] & 0xFCu) != 0) {
        return EMGFRAME_ERR_FIELD;
    }
    n_values = (size_t)packet[2] * packet[3];
    if (len != EMGFRAME_HEADER_SIZE + 2 * n_values + EMGFRAME_CRC_SIZE) {
        return EMGFRAME_ERR_LENGTH;
    }
    limit_minus_1 = (uint16_t)(((uint32_t)1 << packet[4]) - 1u);
    for (i = 0; i < n_values; i++) {
        if (get_u16le(packet + EMGFRAME_HEADER_SIZE + 2 * i) > limit_minus_1) {
            return EMGFRAME_ERR_FIELD;
        }
    }
    h->n_channels = packet[2];
    h->n_samples = packet[3];
    h->adc_bits = packet[4];
    h->status = packet[5];
    h->vref_mv = get_u16le(packet + 6);
    h->seq = get_u16le(packet + 8);
    h->t_us = (uint32_t)get_u16le(packet + 10) | ((uint32_t)get_u16le(packet + 12) << 16);
    *body = packet + EMGFRAME_HEADER_SIZE;
    *body_len = 2 * n_values;
    return EMGFRAME_TYPE_DATA;
}
