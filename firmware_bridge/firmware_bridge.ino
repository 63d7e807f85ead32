/*
 * MyoWare 2.0 bridge: up to 4 MyoWare RAW outputs sampled on a hardware timer and sent to the
 * host as COBS-framed, CRC-checked binary packets. The protocol is firmware_bridge/PROTOCOL.md.
 *
 * Targets
 *   Arduino Uno (ATmega328P, 16 MHz): Timer1 CTC interrupt starts an interrupt-driven ADC scan
 *     of A0..A(n-1); reference AVcc (5 V); 10-bit counts. `make -C firmware_bridge` builds it.
 *   ESP32 (Arduino-ESP32 core 2.x or 3.x): a hardware timer interrupt records tick times, the
 *     main loop reads GPIO36, 39, 34, 35 (ADC1) for each tick; 12-bit counts at 3.3 V.
 *
 * Wiring: MyoWare 2.0 RAW -> A0 (A1, A2, A3 for more sensors); power the sensors from the same
 * board's 5 V (Uno) or 3.3 V (ESP32) pin so that REF is half the ADC reference; GND to GND.
 * Unused inputs float: use `channels <n>` or tie them to a sensor's REF.
 *
 * Default after reset: 1000 Hz, 4 channels, stopped; the host sends `start`.
 */

#include "src/emgbridge.h"
#include "src/emgframe.h"

#define SPF EMGBRIDGE_SPF   /* samples per channel in one packet */
#define N_BLOCKS 4          /* packets buffered between the sampling interrupt and the serial port */

#if defined(ARDUINO_ARCH_AVR)
#define BRIDGE_MCU "atmega328p"
#define ADC_BITS 10
#define VREF_MV 5000
#elif defined(ARDUINO_ARCH_ESP32)
#include <esp_arduino_version.h>
#define BRIDGE_MCU "esp32"
#define ADC_BITS 12
#define VREF_MV 3300
static const uint8_t ESP32_PINS[EMGFRAME_MAX_CHANNELS] = {36, 39, 34, 35};
#else
#error "firmware_bridge supports the Arduino Uno (AVR) and the ESP32"
#endif

/* One packet's worth of samples, filled by the sampling code, sent by loop(). */
typedef struct {
    uint16_t seq;
    uint32_t t_us;
    uint8_t status;
    uint16_t samples[SPF * EMGFRAME_MAX_CHANNELS]; /* sample-major */
} block_t;

static block_t blocks[N_BLOCKS];
static volatile uint8_t head = 0;   /* block being filled (owned by the sampling code) */
static volatile uint8_t tail = 0;   /* next block to send (owned by loop) */
static volatile uint8_t sample_index = 0;
static volatile uint8_t pending_status = 0;
static uint16_t next_seq = 0;
static uint8_t n_channels = EMGBRIDGE_DEFAULT_CHANNELS;

static emgbridge_state bridge;
/* one packet buffer for data (at most 96 bytes) and text replies (at most 204 bytes) */
#define PACKET_CAP EMGFRAME_TEXT_SIZE(EMGFRAME_MAX_TEXT)
static uint8_t packet[PACKET_CAP];
static uint8_t wire[EMGFRAME_MAX_WIRE(PACKET_CAP)];
static char reply[EMGBRIDGE_REPLY_CAP];

#define BARRIER() __asm__ __volatile__("" ::: "memory")

#if defined(ARDUINO_ARCH_ESP32)
/* on the ESP32 the sampling code runs in loop() while the tick interrupt also sets flags */
static portMUX_TYPE flag_mux = portMUX_INITIALIZER_UNLOCKED;
#define FLAGS_LOCK() portENTER_CRITICAL(&flag_mux)
#define FLAGS_UNLOCK() portEXIT_CRITICAL(&flag_mux)
#else
/* on the Uno the sampling code runs inside interrupts already */
#define FLAGS_LOCK()
#define FLAGS_UNLOCK()
#endif

/* Start a packet at its first sample's tick (sampling context). */
static inline void begin_block(uint32_t t_us)
{
    block_t *b = &blocks[head];
    b->seq = next_seq++;
    b->t_us = t_us;
    b->status = pending_status;
    pending_status = 0;
}

/* A sample of all channels is complete (sampling context). */
static inline void end_sample(void)
{
    if (++sample_index < SPF) {
        return;
    }
    sample_index = 0;
    uint8_t next = (uint8_t)((head + 1) % N_BLOCKS);
    if (next == tail) {
        /* ring full: drop this packet (its seq is used up) and flag the next one */
        FLAGS_LOCK();
        pending_status |= EMGFRAME_STATUS_OVERRUN;
        FLAGS_UNLOCK();
    } else {
        BARRIER();
        head = next;
    }
}

#if defined(ARDUINO_ARCH_AVR)
/* ------------------------------------------------------------------ Uno: Timer1 + ADC ISR */
static volatile uint8_t scan_channel = 0;
static volatile uint8_t scan_busy = 0;

ISR(TIMER1_COMPA_vect)
{
    uint32_t now = micros();
    if (scan_busy) {
        /* the previous scan is still converting: this tick is missed and the following
           samples shift by one period. Flag the packet where that shows: this one, or the
           next one when the missed tick would have started it. */
        if (sample_index == SPF - 1) {
            pending_status |= EMGFRAME_STATUS_LATE;
        } else {
            blocks[head].status |= EMGFRAME_STATUS_LATE;
        }
        return;
    }
    if (sample_index == 0) {
        begin_block(now);
    }
    scan_channel = 0;
    scan_busy = 1;
    ADMUX = _BV(REFS0); /* AVcc reference, right-adjusted, channel A0 */
    ADCSRA |= _BV(ADSC);
}

ISR(ADC_vect)
{
    uint16_t value = ADC; /* reads ADCL then ADCH */
    blocks[head].samples[sample_index * n_channels + scan_channel] = value;
    if (++scan_channel < n_channels) {
        ADMUX = (uint8_t)(_BV(REFS0) | scan_channel);
        ADCSRA |= _BV(ADSC);
        return;
    }
    scan_busy = 0;
    end_sample();
}

static void hw_setup(void)
{
    /* ADC clock 16 MHz / 128 = 125 kHz (full 10-bit accuracy): 13 ADC clocks = 104 us/conversion */
    ADCSRB = 0;
    DIDR0 = 0x0F; /* no digital input buffers on A0-A3 */
    ADMUX = _BV(REFS0);
    ADCSRA = _BV(ADEN) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);
    /* the first conversion after enabling takes 25 ADC clocks (200 us): do it now, not in the
       first sample period of a session */
    ADCSRA |= _BV(ADSC);
    while (ADCSRA & _BV(ADSC)) {
    }
    /* interrupt on; writing ADIF = 1 clears the flag of the conversion above */
    ADCSRA = _BV(ADEN) | _BV(ADIE) | _BV(ADIF) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);
}

static void hw_start(uint16_t fs_hz)
{
    uint8_t sreg = SREG;
    cli();
    TCCR1A = 0;
    TCCR1B = 0;
    TCNT1 = 0;
    OCR1A = (uint16_t)(F_CPU / 8UL / fs_hz - 1UL); /* fs divides 1 MHz, so this is exact */
    TIFR1 = _BV(OCF1A);
    TIMSK1 = _BV(OCIE1A);
    TCCR1B = _BV(WGM12) | _BV(CS11); /* CTC on OCR1A, prescaler 8: 2 MHz */
    SREG = sreg;
}

static void hw_stop(void)
{
    uint8_t sreg = SREG;
    cli();
    TCCR1B = 0;
    TIMSK1 = 0;
    SREG = sreg;
    while (scan_busy) {
        /* the ADC interrupt finishes a running scan (at most 4 x 104 us) and clears the flag;
           waiting for it keeps a late conversion from writing into the next session */
    }
}

static inline void poll_samples(void) {}

#else
/* --------------------------------------------------------- ESP32: timer ISR + loop reads */
#define TICK_QUEUE 16
static hw_timer_t *timer = NULL;
static volatile uint32_t tick_time[TICK_QUEUE];
static volatile uint8_t tick_head = 0;
static uint8_t tick_tail = 0;

static void IRAM_ATTR on_tick(void)
{
    uint32_t now = (uint32_t)micros();
    uint8_t next = (uint8_t)((tick_head + 1) % TICK_QUEUE);
    if (next == tick_tail) {
        portENTER_CRITICAL_ISR(&flag_mux);
        pending_status |= EMGFRAME_STATUS_LATE; /* loop() fell behind: this tick is missed */
        portEXIT_CRITICAL_ISR(&flag_mux);
    } else {
        tick_time[tick_head] = now;
        tick_head = next;
    }
}

static void hw_setup(void)
{
    analogReadResolution(12);
    analogSetAttenuation(ADC_11db);
}

static void hw_start(uint16_t fs_hz)
{
    uint32_t period_us = 1000000UL / fs_hz;
    tick_head = tick_tail = 0;
#if ESP_ARDUINO_VERSION_MAJOR >= 3
    if (timer == NULL) {
        timer = timerBegin(1000000UL); /* 1 MHz */
        timerAttachInterrupt(timer, &on_tick);
    }
    timerWrite(timer, 0);
    timerAlarm(timer, period_us, true, 0);
    timerStart(timer);
#else
    if (timer == NULL) {
        timer = timerBegin(0, 80, true); /* 80 MHz APB / 80 = 1 MHz */
        timerAttachInterrupt(timer, &on_tick, true);
    }
    timerWrite(timer, 0);
    timerAlarmWrite(timer, period_us, true);
    timerAlarmEnable(timer);
#endif
}

static void hw_stop(void)
{
    if (timer != NULL) {
#if ESP_ARDUINO_VERSION_MAJOR >= 3
        timerStop(timer);
#else
        timerAlarmDisable(timer);
#endif
    }
}

/* Read the channels for every recorded tick (loop context). */
static void poll_samples(void)
{
    while (tick_tail != tick_head) {
        uint32_t t = tick_time[tick_tail];
        tick_tail = (uint8_t)((tick_tail + 1) % TICK_QUEUE);
        if (sample_index == 0) {
            FLAGS_LOCK();
            begin_block(t);
            FLAGS_UNLOCK();
        }
        for (uint8_t ch = 0; ch < n_channels; ch++) {
            blocks[head].samples[sample_index * n_channels + ch] = (uint16_t)analogRead(ESP32_PINS[ch]);
        }
        end_sample();
    }
}
#endif

/* ------------------------------------------------------------------------------ common */
static void send_packet(size_t len)
{
    size_t n = emgframe_to_wire(packet, len, wire);
    Serial.write(wire, n);
}

static void send_text(const char *text)
{
    send_packet(emgframe_build_text(text, strlen(text), packet));
}

/* Forget all sampled data and restart the packet ring (sampling stopped). */
static void reset_ring(void)
{
    head = 0;
    tail = 0;
    sample_index = 0;
    pending_status = 0;
    next_seq = 0;
}

static void send_ready_blocks(void)
{
    emgframe_data_header h;
    h.n_channels = n_channels;
    h.n_samples = SPF;
    h.adc_bits = ADC_BITS;
    h.vref_mv = VREF_MV;
    while (tail != head) {
        BARRIER();
        block_t *b = &blocks[tail];
        h.seq = b->seq;
        h.t_us = b->t_us;
        h.status = b->status;
        size_t len = emgframe_build_data(&h, b->samples, packet);
        BARRIER();
        tail = (uint8_t)((tail + 1) % N_BLOCKS); /* the block is copied: free it before the slow write */
        send_packet(len);
    }
}

static void handle_host_byte(uint8_t c)
{
    uint8_t action = emgbridge_feed(&bridge, c, reply, sizeof reply);
    if (action & EMGBRIDGE_STOP) {
        hw_stop();
        reset_ring();
    }
    if (action & EMGBRIDGE_REPLY) {
        send_text(reply);
    }
    if (action & EMGBRIDGE_START) {
        hw_stop();
        reset_ring();
        n_channels = bridge.n_channels;
        hw_start(bridge.fs_hz);
    }
}

void setup()
{
    Serial.begin(EMGBRIDGE_BAUD);
    emgbridge_init(&bridge, BRIDGE_MCU, ADC_BITS, VREF_MV);
    hw_setup();
    emgbridge_banner(&bridge, reply, sizeof reply);
    send_text(reply);
}

void loop()
{
    while (Serial.available() > 0) {
        handle_host_byte((uint8_t)Serial.read());
    }
    if (bridge.streaming) {
        poll_samples();
        send_ready_blocks();
    }
}
