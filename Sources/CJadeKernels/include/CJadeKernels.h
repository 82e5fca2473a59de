#ifndef CJADE_KERNELS_H
#define CJADE_KERNELS_H

#include <stddef.h>

/// Whether this CPU has AVX2 and FMA (the blocked kernel below needs both).
int jade_kernels_avx2_fma(void);

/// Scores a block of rows against a block of queries with AVX2 and FMA: for row r (0..<rows,
/// at `base + r * row_stride` floats) and query q (0..<queries, at `query_base + q * dim`),
/// `out[r * queries + q]` is the dot product (`l2` == 0) or the squared euclidean distance
/// (`l2` != 0) of the two `dim`-float vectors. The sums are taken in another order than the
/// search's own kernel, so a result may differ from it in its last bits: the caller treats
/// these as estimates within a known bound. Call only when jade_kernels_avx2_fma() is true.
void jade_kernels_block_scores(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int l2, float *out);

/// The block's scores (as `jade_kernels_block_scores`, into `scores`), then the (row, query)
/// pairs whose exact score might reach the query's raw threshold, as `row * queries + query`
/// into `out` (row-major order); returns how many. `mode`: 0 dot, 1 cosine, 2 squared
/// euclidean. A pair is left out only when its estimate, moved by its margin towards the
/// threshold, still falls short of it: the dot product's margin is `slack` times the norms
/// (from `row_inverse_norms` and `query_inverse_norms`; a zero inverse keeps the pair), the
/// cosine's `slack` plus four units in the last place, the squared distance's `slack` times
/// 1.01 times itself. A NaN keeps the pair. `higher_is_better`: the direction of the scores.
size_t jade_kernels_block_candidates(
    const float *base, size_t row_stride, size_t rows, const float *query_base, size_t queries, size_t dim,
    int mode, const float *row_inverse_norms, const float *query_inverse_norms, const float *thresholds,
    int higher_is_better, float slack, float *scores, int *out);

/// Dot product (`l2` == 0) or squared euclidean distance (`l2` != 0) of two `dim`-float
/// vectors (unaligned), with AVX2 and FMA and two accumulators: the HNSW graph's distance,
/// which only steers its search (hits are scored again by the search's own kernel). Call only
/// when jade_kernels_avx2_fma() is true.
float jade_kernels_pair(const float *a, const float *b, size_t dim, int l2);

/// A hint that `p` will be read soon (an HNSW neighbour's vector or links).
static inline void jade_kernels_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
