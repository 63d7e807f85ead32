/*
 * Host-side test of the firmware's shared C code (src/emgframe.c, src/emgbridge.c), built with
 * gcc by `make -C firmware_bridge test`. Checks every line of test_vectors.txt (the same file
 * the Python tests check), then feeds random bytes and every truncation of a valid stream
 * through a receiver written with the same functions: no crash (run under
 * -fsanitize=address,undefined), no packet accepted with a bad CRC.
 *
 * Usage: test_emgframe VECTORS_FILE [RANDOM_BYTES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/emgbridge.h"
#include "../src/emgframe.h"

#define LINE_CAP 16384
#define BUF_CAP 4096

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        checks++;                                                     \
        if (!(cond)) {                                                \
            failures++;                                               \
            fprintf(stderr, "FAIL line %d: ", lineno);                \
            fprintf(stderr, __VA_ARGS__);                             \
            fputc('\n', stderr);                                      \
        }                                                             \
    } while (0)

static int lineno = 0;

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (strcmp(hex, "-") == 0) {
        return 0;
    }
    while (hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1) {
            break;
        }
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
    out[2 * n] = '\0';
}

/* Split a tab-separated line in place; returns the field count. */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    fields[n++] = p;
    while (*p && n < max) {
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
        p++;
    }
    return n;
}

static const char *reason_name(int code)
{
    switch (code) {
    case EMGFRAME_ERR_LENGTH: return "length";
    case EMGFRAME_ERR_CRC: return "crc";
    case EMGFRAME_ERR_VERSION: return "version";
    case EMGFRAME_ERR_TYPE: return "type";
    case EMGFRAME_ERR_FIELD: return "field";
    default: return "ok";
    }
}

/* A receiver like the host's: split at 0x00, COBS-decode, parse. Counts what it accepted. */
typedef struct {
    uint8_t piece[600];
    size_t len;
    int overflow;
    long accepted;
    long rejected;
} receiver;

static void receiver_byte(receiver *r, uint8_t b)
{
    uint8_t packet[600];
    emgframe_data_header h;
    const uint8_t *body;
    size_t body_len;
    int32_t n;
    int kind;
    if (b != 0) {
        if (r->len < sizeof r->piece) {
            r->piece[r->len++] = b;
        } else {
            r->overflow = 1;
        }
        return;
    }
    if (r->len == 0) {
        return;
    }
    n = r->overflow ? -1 : emgframe_cobs_decode(r->piece, r->len, packet, sizeof packet);
    r->len = 0;
    r->overflow = 0;
    if (n < 0) {
        r->rejected++;
        return;
    }
    kind = emgframe_parse(packet, (size_t)n, &h, &body, &body_len);
    if (kind > 0) {
        /* never accept a packet whose CRC does not match */
        if (emgframe_crc16(packet, (size_t)n - 2) !=
            (uint16_t)((packet[n - 2] << 8) | packet[n - 1])) {
            fprintf(stderr, "FAIL: accepted a packet with a bad CRC\n");
            failures++;
        }
        r->accepted++;
    } else {
        r->rejected++;
    }
}

static char line[LINE_CAP];
static uint8_t a[BUF_CAP], b[BUF_CAP], c[BUF_CAP];
static char hexbuf[2 * BUF_CAP + 1];

static void check_vector(char **f, int nf, emgbridge_state *bridge)
{
    size_t na, nb, nc;
    if (strcmp(f[0], "crc") == 0 && nf == 3) {
        na = from_hex(f[1], a, BUF_CAP);
        unsigned want = (unsigned)strtoul(f[2], NULL, 16);
        unsigned got = emgframe_crc16(a, na);
        CHECK(got == want, "crc of %s: got %04x, want %04x", f[1], got, want);
    } else if (strcmp(f[0], "cobs") == 0 && nf == 3) {
        na = from_hex(f[1], a, BUF_CAP);
        nb = from_hex(f[2], b, BUF_CAP);
        nc = emgframe_cobs_encode(a, na, c);
        CHECK(nc == nb && memcmp(b, c, nb) == 0, "cobs encode of %.40s...", f[1]);
        CHECK(nc <= EMGFRAME_COBS_MAX(na), "cobs encode longer than EMGFRAME_COBS_MAX");
        int32_t nd = emgframe_cobs_decode(b, nb, c, BUF_CAP);
        CHECK(nd == (int32_t)na && memcmp(a, c, na) == 0, "cobs decode of %.40s...", f[2]);
    } else if (strcmp(f[0], "data") == 0 && nf == 10) {
        emgframe_data_header h, g;
        uint16_t samples[EMGFRAME_MAX_CHANNELS * EMGFRAME_MAX_SAMPLES];
        size_t n = 0, i;
        char *p = f[8];
        const uint8_t *body;
        size_t body_len;
        h.n_channels = (uint8_t)atoi(f[1]);
        h.n_samples = (uint8_t)atoi(f[2]);
        h.adc_bits = (uint8_t)atoi(f[3]);
        h.status = (uint8_t)atoi(f[4]);
        h.vref_mv = (uint16_t)atoi(f[5]);
        h.seq = (uint16_t)atoi(f[6]);
        h.t_us = (uint32_t)strtoul(f[7], NULL, 10);
        while (*p && n < sizeof samples / sizeof samples[0]) {
            samples[n++] = (uint16_t)strtoul(p, &p, 10);
            if (*p == ',') {
                p++;
            }
        }
        CHECK(n == (size_t)h.n_channels * h.n_samples, "data: %zu counts", n);
        na = emgframe_build_data(&h, samples, a);
        CHECK(na == EMGFRAME_DATA_SIZE(h.n_channels, h.n_samples), "data: packet length %zu", na);
        nb = emgframe_to_wire(a, na, b);
        nc = from_hex(f[9], c, BUF_CAP);
        to_hex(b, nb, hexbuf);
        CHECK(nb == nc && memcmp(b, c, nb) == 0, "data wire differs:\n  got  %s\n  want %s", hexbuf, f[9]);
        CHECK(nb <= EMGFRAME_MAX_WIRE(na), "data wire longer than EMGFRAME_MAX_WIRE");
        /* and back */
        int32_t nd = emgframe_cobs_decode(c, nc - 1, a, BUF_CAP);
        CHECK(nd == (int32_t)na, "data: decode length %d", (int)nd);
        if (nd < 0) {
            return;
        }
        int kind = emgframe_parse(a, (size_t)nd, &g, &body, &body_len);
        CHECK(kind == EMGFRAME_TYPE_DATA, "data: parse gave %s", reason_name(kind));
        if (kind == EMGFRAME_TYPE_DATA) {
            CHECK(g.seq == h.seq && g.t_us == h.t_us && g.status == h.status && g.vref_mv == h.vref_mv &&
                      g.adc_bits == h.adc_bits && g.n_channels == h.n_channels && g.n_samples == h.n_samples,
                  "data: header round trip");
            for (i = 0; i < n; i++) {
                uint16_t v = (uint16_t)(body[2 * i] | (body[2 * i + 1] << 8));
                if (v != samples[i]) {
                    CHECK(0, "data: sample %zu round trip %u != %u", i, v, samples[i]);
                    break;
                }
            }
        }
    } else if (strcmp(f[0], "text") == 0 && nf == 3) {
        const uint8_t *body;
        size_t body_len;
        emgframe_data_header h;
        size_t len = strlen(f[1]);
        na = emgframe_build_text(f[1], len, a);
        nb = emgframe_to_wire(a, na, b);
        nc = from_hex(f[2], c, BUF_CAP);
        CHECK(nb == nc && memcmp(b, c, nb) == 0, "text wire differs for %.40s", f[1]);
        int kind = emgframe_parse(a, na, &h, &body, &body_len);
        CHECK(kind == EMGFRAME_TYPE_TEXT && body_len == len && memcmp(body, f[1], len) == 0,
              "text: parse round trip");
    } else if (strcmp(f[0], "bad") == 0 && nf == 3) {
        const uint8_t *body;
        size_t body_len;
        emgframe_data_header h;
        const char *got;
        na = from_hex(f[1], a, BUF_CAP);
        int32_t nd = emgframe_cobs_decode(a, na - 1, b, BUF_CAP); /* without the delimiter */
        if (nd < 0) {
            got = "cobs";
        } else {
            got = reason_name(emgframe_parse(b, (size_t)nd, &h, &body, &body_len));
        }
        CHECK(strcmp(got, f[2]) == 0, "bad packet: got %s, want %s", got, f[2]);
    } else if (strcmp(f[0], "reset") == 0 && nf == 2) {
        int esp = strcmp(f[1], "esp32") == 0;
        static char mcu[32];
        snprintf(mcu, sizeof mcu, "%s", f[1]);
        emgbridge_init(bridge, mcu, esp ? 12 : 10, esp ? 3300 : 5000);
    } else if (strcmp(f[0], "cmd") == 0 && nf == 4) {
        char reply[EMGBRIDGE_REPLY_CAP];
        uint8_t action = 0, got;
        size_t i;
        na = from_hex(f[1], a, BUF_CAP);
        reply[0] = '\0';
        for (i = 0; i < na; i++) {
            got = emgbridge_feed(bridge, a[i], reply, sizeof reply);
            CHECK(got == 0, "cmd %s: action before the end of the line", f[1]);
        }
        action = emgbridge_feed(bridge, '\n', reply, sizeof reply);
        CHECK(action == (uint8_t)atoi(f[2]), "cmd %s: action %u, want %s", f[1], action, f[2]);
        if (strcmp(f[3], "-") == 0) {
            CHECK(!(action & EMGBRIDGE_REPLY), "cmd %s: unexpected reply %s", f[1], reply);
        } else {
            CHECK(strcmp(reply, f[3]) == 0, "cmd %s:\n  got  %s\n  want %s", f[1], reply, f[3]);
        }
    } else {
        CHECK(0, "unknown vector kind %s with %d fields", f[0], nf);
    }
}

static void check_banner(void)
{
    emgbridge_state s;
    char text[EMGBRIDGE_REPLY_CAP];
    emgbridge_init(&s, "atmega328p", 10, 5000);
    emgbridge_banner(&s, text, sizeof text);
    CHECK(strncmp(text, "READY board=myoware fw=", 23) == 0, "banner %s", text);
    /* a too-small buffer truncates, never overflows */
    emgbridge_info(&s, text, 8);
    CHECK(strlen(text) == 7, "info truncation");
}

static void fuzz(long n_random)
{
    receiver r;
    long i;
    size_t k, n, stream_len = 0;
    uint16_t samples[40];
    emgframe_data_header h = {4, 10, 10, 0, 5000, 0, 0};
    static uint8_t stream[BUF_CAP];
    uint32_t x = 12345u;

    memset(&r, 0, sizeof r);
    srand(7);
    for (i = 0; i < n_random; i++) {
        x = x * 1103515245u + 12345u;
        receiver_byte(&r, (uint8_t)(x >> 16));
    }
    receiver_byte(&r, 0);
    lineno = 0;
    CHECK(r.accepted < 5, "random bytes: %ld packets accepted (expected ~0)", r.accepted);
    printf("random: %ld bytes, %ld pieces rejected, %ld accepted\n", n_random, r.rejected, r.accepted);

    /* a stream of 20 valid packets, then every truncation of it fed to a fresh receiver */
    for (i = 0; i < 20; i++) {
        for (k = 0; k < 40; k++) {
            samples[k] = (uint16_t)((i * 37 + k * 11) % 1024);
        }
        h.seq = (uint16_t)i;
        h.t_us = (uint32_t)(i * 10000);
        uint8_t packet[EMGFRAME_MAX_PACKET];
        n = emgframe_build_data(&h, samples, packet);
        stream_len += emgframe_to_wire(packet, n, stream + stream_len);
    }
    for (k = 0; k <= stream_len; k++) {
        receiver t;
        size_t j;
        long want = 0;
        memset(&t, 0, sizeof t);
        for (j = 0; j < k; j++) {
            receiver_byte(&t, stream[j]);
            want += stream[j] == 0;
        }
        CHECK(t.accepted == want && t.rejected == 0, "truncation at %zu: %ld accepted, want %ld", k, t.accepted, want);
        /* the tail starting at k (mid-packet start): at most one rejected piece, then all packets */
        memset(&t, 0, sizeof t);
        for (j = k; j < stream_len; j++) {
            receiver_byte(&t, stream[j]);
        }
        CHECK(t.rejected <= 1, "start at %zu: %ld rejected", k, t.rejected);
    }
}

int main(int argc, char **argv)
{
    FILE *fp;
    emgbridge_state bridge;
    char *fields[16];
    long n_random = argc > 2 ? atol(argv[2]) : 1000000L;
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTORS_FILE [RANDOM_BYTES]\n", argv[0]);
        return 2;
    }
    fp = fopen(argv[1], "r");
    if (!fp) {
        perror(argv[1]);
        return 2;
    }
    emgbridge_init(&bridge, "atmega328p", 10, 5000);
    while (fgets(line, sizeof line, fp)) {
        size_t len = strlen(line);
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        int nf = split_tabs(line, fields, 16);
        check_vector(fields, nf, &bridge);
    }
    fclose(fp);
    check_banner();
    fuzz(n_random);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
