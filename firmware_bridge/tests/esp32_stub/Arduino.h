/*
 * Declarations of the Arduino-ESP32 API the sketch uses, with the signatures of core 2.x or
 * 3.x (ESP_ARDUINO_VERSION_MAJOR), so that gcc can check the ESP32 branch of the sketch on the
 * host (tests/test_firmware.py). Not an implementation: nothing is linked or run.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "esp_arduino_version.h"

#define IRAM_ATTR
typedef struct { volatile uint32_t owner; uint32_t count; } portMUX_TYPE;
#define portMUX_INITIALIZER_UNLOCKED {0, 0}
void vPortEnterCritical(portMUX_TYPE *mux);
void vPortExitCritical(portMUX_TYPE *mux);
#define portENTER_CRITICAL(mux) vPortEnterCritical(mux)
#define portEXIT_CRITICAL(mux) vPortExitCritical(mux)
#define portENTER_CRITICAL_ISR(mux) vPortEnterCritical(mux)
#define portEXIT_CRITICAL_ISR(mux) vPortExitCritical(mux)

typedef struct hw_timer_s hw_timer_t;
#if ESP_ARDUINO_VERSION_MAJOR >= 3
hw_timer_t *timerBegin(uint32_t frequency);
void timerAttachInterrupt(hw_timer_t *timer, void (*userFunc)(void));
void timerAlarm(hw_timer_t *timer, uint64_t alarm_value, bool autoreload, uint64_t reload_count);
void timerStart(hw_timer_t *timer);
void timerStop(hw_timer_t *timer);
#else
hw_timer_t *timerBegin(uint8_t timer, uint16_t divider, bool countUp);
void timerAttachInterrupt(hw_timer_t *timer, void (*fn)(void), bool edge);
void timerAlarmWrite(hw_timer_t *timer, uint64_t alarm_value, bool autoreload);
void timerAlarmEnable(hw_timer_t *timer);
void timerAlarmDisable(hw_timer_t *timer);
#endif
void timerWrite(hw_timer_t *timer, uint64_t val);

typedef enum { ADC_0db, ADC_2_5db, ADC_6db, ADC_11db } adc_attenuation_t;
void analogReadResolution(uint8_t bits);
void analogSetAttenuation(adc_attenuation_t attenuation);
uint16_t analogRead(uint8_t pin);
unsigned long micros(void);

class HardwareSerial {
public:
    void begin(unsigned long baud);
    int available(void);
    int read(void);
    size_t write(const uint8_t *buffer, size_t size);
};
extern HardwareSerial Serial;
