#pragma once
// Analytic kernels in row blocks, so that a long computation shows a progress bar: the same
// numbers as one call of tangent::kernels, computed as a lower triangle of blocks for a Gram
// matrix (mirrored, so it is exactly symmetric) or as row blocks for a cross kernel.

#include <algorithm>
#include <string>

#include <tangent/tangent.hpp>

#include "progress.hpp"

namespace examples {

/// `wrap(block)` turns rows of a sample matrix into network input (identity for feature
/// vectors, `tangent::images(block, h, w, c)` for images).
template <class Net, class Wrap>
tangent::Kernels gram_with_progress(const Net& net, const Eigen::MatrixXd& x, Wrap wrap,
                                    const std::string& label) {
  const Eigen::Index n = x.rows();
  const Eigen::Index block = std::max<Eigen::Index>(64, n / 24);
  tangent::Kernels k{Eigen::MatrixXd(n, n), Eigen::MatrixXd(n, n)};
  // Work of the blocks up to row r1 grows as r1², so progress is counted in pairs.
  Progress bar(label, static_cast<long>(n * n));
  for (Eigen::Index r0 = 0; r0 < n; r0 += block) {
    const Eigen::Index rows = std::min(block, n - r0);
    const tangent::Kernels part =
        tangent::kernels(net, wrap(x.middleRows(r0, rows)), wrap(x.topRows(r0 + rows)));
    k.nngp.block(r0, 0, rows, r0 + rows) = part.nngp;
    k.ntk.block(r0, 0, rows, r0 + rows) = part.ntk;
    bar.update(static_cast<long>((r0 + rows) * (r0 + rows)));
  }
  for (Eigen::MatrixXd* m : {&k.nngp, &k.ntk}) {
    m->triangularView<Eigen::StrictlyUpper>() = m->transpose();
  }
  return k;
}

template <class Net, class Wrap>
tangent::Kernels cross_with_progress(const Net& net, const Eigen::MatrixXd& x1,
                                     const Eigen::MatrixXd& x2, Wrap wrap,
                                     const std::string& label) {
  const Eigen::Index n = x1.rows();
  const Eigen::Index block = std::max<Eigen::Index>(64, n / 24);
  tangent::Kernels k{Eigen::MatrixXd(n, x2.rows()), Eigen::MatrixXd(n, x2.rows())};
  Progress bar(label, static_cast<long>(n));
  for (Eigen::Index r0 = 0; r0 < n; r0 += block) {
    const Eigen::Index rows = std::min(block, n - r0);
    const tangent::Kernels part = tangent::kernels(net, wrap(x1.middleRows(r0, rows)), wrap(x2));
    k.nngp.middleRows(r0, rows) = part.nngp;
    k.ntk.middleRows(r0, rows) = part.ntk;
    bar.update(static_cast<long>(r0 + rows));
  }
  return k;
}

}  // namespace examples
