#include "methods/gptq.h"

#include "base/error.h"
#include "methods/inverse_factor.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ql {
namespace {

// The grid of one column range: per-row scales/zeros, laid out as a 1-column grid.
QuantGrid columnGrid(const at::Tensor& columns, const Recipe& recipe) {
    const at::Tensor c = columns.contiguous();
    QuantGrid g = computeGrid(c.data_ptr<float>(), c.size(0), c.size(1), recipe);
    g.cols = 1;
    g.groupSize = 1;
    return g;
}

// Quantizes one column with a 1-column grid. Same float32 formulas as the quant
// library's quantizeWithGrid (t = w/scale clamped to [qmin-zero, qmax-zero], rounded
// half to even, a zero always +0.0; w_hat = t*scale, code = t + zero), inlined because GPTQ
// quantizes one column at a time and the library call has per-call threading overhead.
void quantizeColumn(const float* w, const QuantGrid& g, int32_t* q, float* dq) {
    const float qmin = float(g.qmin()), qmax = float(g.qmax());
    for (int64_t r = 0; r < g.rows; ++r) {
        const float scale = g.scaleAt(r, 0), zero = g.zeroAt(r, 0);
        float t = w[r] / scale;
        t = std::min(std::max(t, qmin - zero), qmax - zero);
        t = std::nearbyint(t) + 0.0f;  // +0.0, never -0.0: as the library (see roundScalar)
        dq[r] = t * scale;
        q[r] = static_cast<int32_t>(t + zero);
    }
}

// Upper Cholesky factor of H^-1 by torch, in float64 and with 10x more dampening per
// attempt (e.g. nearly singular H): the fallback when the float32 in-place path fails.
at::Tensor inverseHessianFactorRetrying(const at::Tensor& H, double meanDiag, double damp) {
    double extra = damp * meanDiag;
    for (int attempt = 1; attempt < 4; ++attempt) {
        if (attempt > 1) extra = std::max(extra * 10.0, 1e-6 * std::max(meanDiag, 1e-12));
        at::Tensor h = H.to(at::kDouble).clone();
        h.diagonal().add_(extra);
        auto [L, info] = at::linalg_cholesky_ex(h);
        if (info.item<int64_t>() == 0) {
            at::Tensor inv = at::cholesky_inverse(L);
            auto [U, info2] = at::linalg_cholesky_ex(inv, /*upper=*/true);
            if (info2.item<int64_t>() == 0) return U.to(at::kFloat).contiguous();
        }
    }
    throw Error(
        "GPTQ: the Hessian is not positive definite even with extra dampening "
        "(increase the dampening or the calibration data)");
}

// Upper Cholesky factor U of H^-1 (the reference's `Hinv`, H^-1 = U^T U), computed in
// H's own storage (see upperFactorOfInverse). H must be [n, n] float32, contiguous and
// symmetric; it is consumed. When H is not positive definite it comes back untouched and
// the float64 attempts with more dampening follow.
at::Tensor inverseHessianFactor(at::Tensor H, double damp, const ProgressReporter& progress) {
    const double meanDiag = H.diagonal().mean().item<double>();
    const at::Tensor diag = H.diagonal().clone();
    H.diagonal().add_(damp * meanDiag);
    if (upperFactorOfInverse(H.data_ptr<float>(), H.size(0), progress)) return H;
    H.diagonal().copy_(diag);
    return inverseHessianFactorRetrying(H, meanDiag, damp);
}

struct GroupGrids {
    std::vector<QuantGrid> perGroup;  // column grids, by original group index
};

// Writes a 1-column grid into the full grid's group `group`.
void storeGroup(QuantGrid& full, const QuantGrid& col, int64_t group) {
    const int64_t ng = full.groupsPerRow();
    for (int64_t r = 0; r < full.rows; ++r) {
        full.scales[r * ng + group] = col.scales[r];
        if (!full.symmetric) full.zeros[r * ng + group] = col.zeros[r];
    }
}

}  // namespace

GridQuant gptqQuantize(const at::Tensor& weight, const at::Tensor& hessian, const Recipe& recipe,
                       const GptqOptions& options, const ProgressReporter& progress) {
    return gptqQuantize(weight, hessian.to(at::kFloat).clone(), recipe, options, progress);
}

GridQuant gptqQuantize(const at::Tensor& weight, at::Tensor&& hessian, const Recipe& recipe,
                       const GptqOptions& options, const ProgressReporter& progress) {
    at::NoGradGuard noGrad;
    at::Tensor W = weight.to(at::kFloat).clone().contiguous();
    at::Tensor H = std::move(hessian).to(at::kFloat).contiguous();
    const int64_t rows = W.size(0), cols = W.size(1);
    const bool grouped = recipe.granularity == Granularity::Group;
    const int64_t g = grouped ? recipe.groupSize : cols;
    const Recipe perRow = channelRecipe(recipe);

    GridQuant out;
    QuantGrid colGrid;
    if (!grouped) {  // reference: find_params(W) on the whole weight, before dead columns
        out.grid = computeGrid(W.data_ptr<float>(), rows, cols, recipe);
        colGrid = out.grid;
        colGrid.cols = 1;
        colGrid.groupSize = 1;
    } else {
        out.grid.bits = recipe.bits;
        out.grid.symmetric = recipe.symmetric;
        out.grid.rows = rows;
        out.grid.cols = cols;
        out.grid.groupSize = g;
        const int64_t ng = out.grid.groupsPerRow();
        out.grid.scales.assign(static_cast<size_t>(rows * ng), 0.0f);
        if (!recipe.symmetric) out.grid.zeros.assign(static_cast<size_t>(rows * ng), 0.0f);
    }

    // Dead inputs (never active): H_ii = 1, W[:, i] = 0.
    const at::Tensor dead = H.diagonal() == 0;
    if (dead.any().item<bool>()) {
        H.diagonal().masked_fill_(dead, 1.0);
        W.index_put_({at::indexing::Slice(), dead}, 0.0);
    }

    GroupGrids staticGroups;
    const bool staticGrouping = grouped && options.actOrder;
    if (staticGrouping) {
        for (int64_t c = 0; c < cols; c += g) {
            staticGroups.perGroup.push_back(columnGrid(W.slice(1, c, c + g), perRow));
            storeGroup(out.grid, staticGroups.perGroup.back(), c / g);
        }
    }

    std::vector<int64_t> perm(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) perm[c] = c;
    if (options.actOrder) {
        const at::Tensor p = at::argsort(H.diagonal(), /*dim=*/0, /*descending=*/true);
        W = W.index_select(1, p).contiguous();
        H = H.index_select(0, p).index_select(1, p).contiguous();
        const at::Tensor pc = p.to(at::kLong).contiguous();
        std::copy(pc.data_ptr<int64_t>(), pc.data_ptr<int64_t>() + cols, perm.begin());
    }

    const at::Tensor Hinv = inverseHessianFactor(std::move(H), options.dampening, progress);
    const float* hinv = Hinv.data_ptr<float>();

    out.codes = codesBuffer(static_cast<size_t>(rows * cols));
    std::fill(out.codes.begin(), out.codes.end(), 0);
    out.dequant = at::empty({rows, cols}, at::kFloat);
    float* dq = out.dequant.data_ptr<float>();
    std::vector<int32_t> qcol(static_cast<size_t>(rows));
    std::vector<float> dqcol(static_cast<size_t>(rows));
    const int64_t block = std::max(1, options.blockSize);

    for (int64_t i1 = 0; i1 < cols; i1 += block) {
        const int64_t i2 = std::min(i1 + block, cols), count = i2 - i1;
        at::Tensor W1T = W.slice(1, i1, i2).t().contiguous();  // column i is row i
        at::Tensor Err1T = at::zeros({count, rows}, at::kFloat);
        float* w1 = W1T.data_ptr<float>();
        float* e1 = Err1T.data_ptr<float>();
        for (int64_t i = 0; i < count; ++i) {
            const int64_t col = i1 + i;
            if (staticGrouping) {
                colGrid = staticGroups.perGroup[static_cast<size_t>(perm[col] / g)];
            } else if (grouped && col % g == 0) {
                // like the reference: from W (updated up to the last lazy batch update)
                colGrid = columnGrid(W.slice(1, col, std::min(col + g, cols)), perRow);
                storeGroup(out.grid, colGrid, col / g);
            }
            float* w = w1 + i * rows;
            quantizeColumn(w, colGrid, qcol.data(), dqcol.data());
            const float d = hinv[col * cols + col];
            float* err = e1 + i * rows;
            const int64_t orig = perm[col];
            for (int64_t r = 0; r < rows; ++r) {
                err[r] = (w[r] - dqcol[r]) / d;
                out.codes[r * cols + orig] = qcol[r];
                dq[r * cols + orig] = dqcol[r];
            }
            for (int64_t j = i + 1; j < count; ++j) {  // W1[:, j] -= err * Hinv1[i, j]
                const float h = hinv[col * cols + i1 + j];
                if (h == 0.0f) continue;
                float* wj = w1 + j * rows;
                for (int64_t r = 0; r < rows; ++r) wj[r] -= err[r] * h;
            }
        }
        if (i2 < cols) {  // lazy batch update of the remaining columns
            at::Tensor rest = W.slice(1, i2, cols);
            rest.addmm_(Err1T.t(), Hinv.slice(0, i1, i2).slice(1, i2, cols), 1.0, -1.0);
        }
        progress.checkCancelled();
    }
    return out;
}

}  // namespace ql
