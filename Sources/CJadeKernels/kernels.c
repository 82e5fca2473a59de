// Blocked scoring for batch search: 4 rows x 2 queries per step, eight lanes at a time, so
// that each loaded row and query vector feeds several fused multiply-adds (the row block stays
// in L1 while every query of the batch passes over it). Compiled for AVX2 + FMA through target
// attributes and chosen at run time, so the binary still runs on CPUs without them.
#include "CJadeKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int jade_kernels_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#if defined(__x86_64__)

__attribute__((target("avx2,fma"))) static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static inline __m256 step(__m256 acc, __m256 r, __m256 q, int l2) {
    if (l2) {
        __m256 d = _mm256_sub_ps(r, q);
        return _mm256_fmadd_ps(d, d, acc);
    }
    return _mm256_fmadd_ps(r, q, acc);
}

/// One row against one query (the edges of the block).
__attribute__((target("avx2,fma"))) static float single(const float *r, const float *q, size_t dim, int l2) {
    __m256 acc = _mm256_setzero_ps();
    size_t d = 0;
    for (; d + 8 <= dim; d += 8) acc = step(acc, _mm256_loadu_ps(r + d), _mm256_loadu_ps(q + d), l2);
    float sum = hsum(acc);
    for (; d < dim; d++) {
        float x = l2 ? r[d] - q[d] : r[d];
        sum += l2 ? x * x : x * q[d];
    }
    return sum;
}

__attribute__((target("avx2,fma"))) float jade_kernels_pair(const float *a, const float *b, size_t dim, int l2) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) {
        acc0 = step(acc0, _mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), l2);
        acc1 = step(acc1, _mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), l2);
    }
    for (; d + 8 <= dim; d += 8) acc0 = step(acc0, _mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), l2);
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; d < dim; d++) {
        float x = l2 ? a[d] - b[d] : a[d];
        sum += l2 ? x * x : x * b[d];
    }
    return sum;
}

__attribute__((target("avx2,fma"))) void jade_kernels_block_scores(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int l2, float *out) {
    size_t wide = dim & ~(size_t)7;
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *r0 = base + r * row_stride, *r1 = r0 + row_stride, *r2 = r1 + row_stride, *r3 = r2 + row_stride;
        size_t q = 0;
        for (; q + 2 <= queries; q += 2) {
            const float *q0 = query_base + q * dim, *q1 = q0 + dim;
            __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(),
                   a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(),
                   a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
            for (size_t d = 0; d < wide; d += 8) {
                __m256 v0 = _mm256_loadu_ps(q0 + d), v1 = _mm256_loadu_ps(q1 + d);
                __m256 x0 = _mm256_loadu_ps(r0 + d), x1 = _mm256_loadu_ps(r1 + d);
                __m256 x2 = _mm256_loadu_ps(r2 + d), x3 = _mm256_loadu_ps(r3 + d);
                a00 = step(a00, x0, v0, l2);
                a01 = step(a01, x0, v1, l2);
                a10 = step(a10, x1, v0, l2);
                a11 = step(a11, x1, v1, l2);
                a20 = step(a20, x2, v0, l2);
                a21 = step(a21, x2, v1, l2);
                a30 = step(a30, x3, v0, l2);
                a31 = step(a31, x3, v1, l2);
            }
            float s[8] = {hsum(a00), hsum(a01), hsum(a10), hsum(a11), hsum(a20), hsum(a21), hsum(a30), hsum(a31)};
            for (size_t d = wide; d < dim; d++) {
                const float *rs[4] = {r0, r1, r2, r3};
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 2; j++) {
                        float qv = (j == 0 ? q0 : q1)[d];
                        float x = l2 ? rs[i][d] - qv : rs[i][d];
                        s[i * 2 + j] += l2 ? x * x : x * qv;
                    }
                }
            }
            for (int i = 0; i < 4; i++) {
                out[(r + i) * queries + q] = s[i * 2];
                out[(r + i) * queries + q + 1] = s[i * 2 + 1];
            }
        }
        for (; q < queries; q++) {
            const float *qq = query_base + q * dim;
            for (int i = 0; i < 4; i++) out[(r + i) * queries + q] = single(base + (r + i) * row_stride, qq, dim, l2);
        }
    }
    for (; r < rows; r++) {
        for (size_t q = 0; q < queries; q++) {
            out[r * queries + q] = single(base + r * row_stride, query_base + q * dim, dim, l2);
        }
    }
}

__attribute__((target("avx2,fma"))) size_t jade_kernels_block_candidates(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int mode, const float *row_inverse_norms, const float *query_inverse_norms, const float *thresholds,
    int higher_is_better, float slack, float *scores, int *out) {
    jade_kernels_block_scores(base, row_stride, rows, query_base, queries, dim, mode == 2, scores);
    const float ulp4 = 4.0f * 0x1p-24f;
    size_t n = 0;
    for (size_t r = 0; r < rows; r++) {
        float ia = row_inverse_norms[r];
        for (size_t q = 0; q < queries; q++) {
            float v = scores[r * queries + q];
            float estimate = v, margin;
            if (mode == 0) {
                float inverses = ia * query_inverse_norms[q];
                margin = inverses > 0 ? slack / inverses : __builtin_inff();
            } else if (mode == 1) {
                float c = v * (ia * query_inverse_norms[q]);
                estimate = c > 1 ? 1 : (c < -1 ? -1 : c);
                margin = slack + ulp4;
            } else {
                margin = slack * __builtin_fabsf(v) * 1.01f;
            }
            float t = thresholds[q];
            int out_of_reach = higher_is_better ? (estimate + margin < t) : (estimate - margin > t);
            if (!out_of_reach) out[n++] = (int)(r * queries + q);
        }
    }
    return n;
}

#else

size_t jade_kernels_block_candidates(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int mode, const float *row_inverse_norms, const float *query_inverse_norms, const float *thresholds,
    int higher_is_better, float slack, float *scores, int *out) {
    (void)base; (void)row_stride; (void)rows; (void)query_base; (void)queries; (void)dim; (void)mode;
    (void)row_inverse_norms; (void)query_inverse_norms; (void)thresholds; (void)higher_is_better; (void)slack;
    (void)scores; (void)out;
    return 0;
}

void jade_kernels_block_scores(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int l2, float *out) {
    (void)base; (void)row_stride; (void)rows; (void)query_base; (void)queries; (void)dim; (void)l2; (void)out;
}

float jade_kernels_pair(const float *a, const float *b, size_t dim, int l2) {
    (void)a; (void)b; (void)dim; (void)l2;
    return 0;
}

#endif
