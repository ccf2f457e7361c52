#pragma once
// What every example shares on its command line and around its main: the output folder, the
// seed and --check, line-buffered stdout (so a log interleaves tables and progress in order),
// and one place that turns an exception into a message and a non-zero exit.

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <Eigen/Core>

namespace examples {

struct CommonOptions {
  std::string out_dir = "results";
  unsigned seed = 1;
  bool check = false;
};

/// --out-dir and --check, for an example that draws nothing at random.
inline void add_output_options(CLI::App& app, CommonOptions& options, const std::string& check,
                               const std::string& outputs = "the CSV files and the PNG") {
  app.add_option("--out-dir", options.out_dir, "where " + outputs + " go")->capture_default_str();
  app.add_flag("--check", options.check, "exit with status 1 unless " + check);
}

inline void add_common_options(CLI::App& app, CommonOptions& options, const std::string& check) {
  add_output_options(app, options, check);
  app.add_option("--seed", options.seed, "seed of the data and the networks")
      ->capture_default_str();
}

/// A comma-separated list of widths, each in [1, 65536].
inline CLI::Option* add_widths_option(CLI::App& app, const std::string& name,
                                      std::vector<Eigen::Index>& widths, const std::string& help) {
  return app.add_option(name, widths, help)
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(Eigen::Index{1}, Eigen::Index{65536}));
}

/// Widths in increasing order without repeats, as the tables and plots expect.
inline void sort_widths(std::vector<Eigen::Index>& widths) {
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
}

/// Runs the example's body; an exception becomes "<name>: <what>" on stderr and exit status 1.
template <class Body>
int run_example(const char* name, Body body) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace examples
