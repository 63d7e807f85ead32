/* emgbridge: see emgbridge.h and firmware_bridge/PROTOCOL.md section 5. */
#include "emgbridge.h"

/* String literals live in flash on the AVR (2 KB of RAM); F() reads them there. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define F(s) PSTR(s)
#define FLASH_BYTE(p) ((char)pgm_read_byte(p))
#else
#define F(s) (s)
#define FLASH_BYTE(p) (*(p))
#endif

typedef struct {
    char *buf;
    size_t cap; /* including the NUL */
    size_t len;
} text_out;

static void put_char(text_out *t, char c)
{
    if (t->len + 1 < t->cap) {
        t->buf[t->len++] = c;
        t->buf[t->len] = '\0';
    }
}

static void put_str(text_out *t, const char *s)
{
    while (*s) {
        put_char(t, *s++);
    }
}

static void put_flash(text_out *t, const char *s)
{
    char c;
    while ((c = FLASH_BYTE(s)) != '\0') {
        put_char(t, c);
        s++;
    }
}

static void put_u32(text_out *t, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        put_char(t, digits[--n]);
    }
}

static text_out begin(char *buf, size_t cap)
{
    text_out t;
    t.buf = buf;
    t.cap = cap;
    t.len = 0;
    if (cap) {
        buf[0] = '\0';
    }
    return t;
}

void emgbridge_init(emgbridge_state *s, const char *mcu, uint8_t adc_bits, uint16_t vref_mv)
{
    s->fs_hz = EMGBRIDGE_DEFAULT_FS;
    s->n_channels = EMGBRIDGE_DEFAULT_CHANNELS;
    s->streaming = 0;
    s->adc_bits = adc_bits;
    s->vref_mv = vref_mv;
    s->mcu = mcu;
    s->line_len = 0;
    s->too_long = 0;
    s->line[0] = '\0';
}

static void put_info(text_out *t, const emgbridge_state *s)
{
    put_flash(t, F("board=myoware fw=" EMGBRIDGE_FIRMWARE " proto=1 mcu="));
    put_str(t, s->mcu);
    put_flash(t, F(" fs="));
    put_u32(t, s->fs_hz);
    put_flash(t, F(" channels="));
    put_u32(t, s->n_channels);
    put_flash(t, F(" spf="));
    put_u32(t, EMGBRIDGE_SPF);
    put_flash(t, F(" bits="));
    put_u32(t, s->adc_bits);
    put_flash(t, F(" vref_mv="));
    put_u32(t, s->vref_mv);
    put_flash(t, F(" gain="));
    put_u32(t, EMGBRIDGE_GAIN);
    put_flash(t, F(" baud="));
    put_u32(t, EMGBRIDGE_BAUD);
}

size_t emgbridge_info(const emgbridge_state *s, char *out, size_t cap)
{
    text_out t = begin(out, cap);
    put_info(&t, s);
    return t.len;
}

size_t emgbridge_banner(const emgbridge_state *s, char *out, size_t cap)
{
    text_out t = begin(out, cap);
    put_flash(&t, F("READY "));
    put_info(&t, s);
    return t.len;
}

/* Parse 1-5 decimal digits; returns -1 when arg is not that. */
static int32_t parse_number(const char *arg)
{
    int32_t v = 0;
    int n = 0;
    if (*arg == '\0') {
        return -1;
    }
    while (*arg) {
        if (*arg < '0' || *arg > '9' || n == 5) {
            return -1;
        }
        v = v * 10 + (*arg - '0');
        arg++;
        n++;
    }
    return v;
}

/* a in RAM, b a flash literal */
static int streq(const char *a, const char *b)
{
    while (*a && *a == FLASH_BYTE(b)) {
        a++;
        b++;
    }
    return *a == FLASH_BYTE(b);
}

static void put_word(text_out *t, const char *word)
{
    int n = 0;
    while (*word && n < 16) {
        char c = *word++;
        put_char(t, (c >= 0x20 && c <= 0x7E) ? c : '?');
        n++;
    }
}

static uint8_t handle_line(emgbridge_state *s, char *line, text_out *t)
{
    char *word = line;
    char *arg;
    char *end;
    int32_t value = -1;
    /* trim */
    while (*word == ' ') {
        word++;
    }
    end = word;
    while (*end) {
        end++;
    }
    while (end > word && end[-1] == ' ') {
        *--end = '\0';
    }
    if (*word == '\0') {
        return 0;
    }
    arg = word;
    while (*arg && *arg != ' ') {
        arg++;
    }
    if (*arg == ' ') {
        *arg++ = '\0';
        while (*arg == ' ') {
            arg++;
        }
    }
    if (streq(word, F("id")) || streq(word, F("start")) || streq(word, F("stop"))) {
        if (*arg) {
            put_flash(t, F("ERR syntax "));
            put_str(t, word);
            put_flash(t, F(" takes no argument"));
            return EMGBRIDGE_REPLY;
        }
        if (streq(word, F("id"))) {
            put_flash(t, F("OK id "));
            put_info(t, s);
            return EMGBRIDGE_REPLY;
        }
        if (streq(word, F("stop"))) {
            s->streaming = 0;
            put_flash(t, F("OK stop"));
            return EMGBRIDGE_REPLY | EMGBRIDGE_STOP;
        }
        if (s->streaming) {
            put_flash(t, F("ERR busy stop first"));
            return EMGBRIDGE_REPLY;
        }
        s->streaming = 1;
        put_flash(t, F("OK start"));
        return EMGBRIDGE_REPLY | EMGBRIDGE_START;
    }
    if (streq(word, F("rate")) || streq(word, F("channels"))) {
        int is_rate = streq(word, F("rate"));
        value = parse_number(arg);
        if (value < 0) {
            if (is_rate) {
                put_flash(t, F("ERR syntax rate <hz>"));
            } else {
                put_flash(t, F("ERR syntax channels <1-4>"));
            }
            return EMGBRIDGE_REPLY;
        }
        if (s->streaming) {
            put_flash(t, F("ERR busy stop first"));
            return EMGBRIDGE_REPLY;
        }
        if (is_rate) {
            if (value < (int32_t)EMGBRIDGE_MIN_FS || value > (int32_t)EMGBRIDGE_MAX_FS) {
                put_flash(t, F("ERR range rate must be 100-8000 Hz"));
            } else if (1000000L % value != 0) {
                put_flash(t, F("ERR range rate must divide 1000000"));
            } else if ((uint32_t)value * s->n_channels > EMGBRIDGE_MAX_CONVERSIONS) {
                put_flash(t, F("ERR range rate x channels must be <= 8000"));
            } else {
                s->fs_hz = (uint16_t)value;
                put_flash(t, F("OK rate "));
                put_u32(t, (uint32_t)value);
            }
        } else {
            if (value < 1 || value > 4) {
                put_flash(t, F("ERR range channels must be 1-4"));
            } else if ((uint32_t)value * s->fs_hz > EMGBRIDGE_MAX_CONVERSIONS) {
                put_flash(t, F("ERR range rate x channels must be <= 8000"));
            } else {
                s->n_channels = (uint8_t)value;
                put_flash(t, F("OK channels "));
                put_u32(t, (uint32_t)value);
            }
        }
        return EMGBRIDGE_REPLY;
    }
    put_flash(t, F("ERR unknown "));
    put_word(t, word);
    return EMGBRIDGE_REPLY;
}

uint8_t emgbridge_feed(emgbridge_state *s, uint8_t c, char *reply, size_t cap)
{
    text_out t = begin(reply, cap);
    uint8_t action;
    if (c == '\r' || c == 0) {
        return 0;
    }
    if (c != '\n') {
        if (s->line_len < EMGBRIDGE_MAX_LINE) {
            s->line[s->line_len++] = (char)c;
        } else {
            s->too_long = 1;
        }
        return 0;
    }
    s->line[s->line_len] = '\0';
    if (s->too_long) {
        put_flash(&t, F("ERR toolong"));
        action = EMGBRIDGE_REPLY;
    } else {
        action = handle_line(s, s->line, &t);
    }
    s->line_len = 0;
    s->too_long = 0;
    return action;
}
