#include "CJadeRateLimit.h"
#include "siphash.h"

void jade_siphash24_128(uint64_t k0, uint64_t k1, const void *data, size_t len, uint64_t out[2]) {
    jade_sip_t s;
    jade_sip_init(&s, k0, k1);
    jade_sip_update(&s, data, len);
    jade_sip_final(&s, out);
}
