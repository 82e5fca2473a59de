// Incremental SipHash-2-4 with a 128-bit output (private to CJadeShm).
#ifndef JADE_SIPHASH_H
#define JADE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "siphash.h assumes a little-endian target"
#endif

typedef struct {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;  /* pending bytes, little-endian */
    uint64_t len;   /* bytes absorbed so far */
} jade_sip_t;

#define JADE_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void jade_sip_round(jade_sip_t *s) {
    s->v0 += s->v1; s->v1 = JADE_ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = JADE_ROTL(s->v0, 32);
    s->v2 += s->v3; s->v3 = JADE_ROTL(s->v3, 16); s->v3 ^= s->v2;
    s->v0 += s->v3; s->v3 = JADE_ROTL(s->v3, 21); s->v3 ^= s->v0;
    s->v2 += s->v1; s->v1 = JADE_ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = JADE_ROTL(s->v2, 32);
}

static inline void jade_sip_compress(jade_sip_t *s, uint64_t m) {
    s->v3 ^= m;
    jade_sip_round(s);
    jade_sip_round(s);
    s->v0 ^= m;
}

static inline void jade_sip_init(jade_sip_t *s, uint64_t k0, uint64_t k1) {
    s->v0 = k0 ^ 0x736f6d6570736575ULL;
    s->v1 = k1 ^ 0x646f72616e646f6dULL ^ 0xee; /* 128-bit output variant */
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    s->tail = 0;
    s->len = 0;
}

static inline void jade_sip_update(jade_sip_t *s, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    unsigned fill = (unsigned)(s->len & 7);
    s->len += n;
    if (fill) {
        while (n && fill < 8) { s->tail |= (uint64_t)*p++ << (8 * fill++); n--; }
        if (fill < 8) return;
        jade_sip_compress(s, s->tail);
        s->tail = 0;
    }
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t m;
        memcpy(&m, p, 8);
        jade_sip_compress(s, m);
    }
    for (unsigned i = 0; i < n; i++) s->tail |= (uint64_t)p[i] << (8 * i);
}

static inline void jade_sip_final(jade_sip_t *s, uint64_t out[2]) {
    uint64_t b = (s->len << 56) | s->tail;
    jade_sip_compress(s, b);
    s->v2 ^= 0xee;
    for (int i = 0; i < 4; i++) jade_sip_round(s);
    out[0] = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
    s->v1 ^= 0xdd;
    for (int i = 0; i < 4; i++) jade_sip_round(s);
    out[1] = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

#endif
