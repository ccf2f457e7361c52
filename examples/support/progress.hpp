#pragma once
// A one-line progress bar with an ETA for the examples' long steps. On a terminal it redraws
// one line; in a log (stderr not a terminal) it prints a line at every tenth of the work, so CI
// logs stay short.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <utility>

namespace examples {

class Progress {
 public:
  Progress(std::string label, long total)
      : label_(std::move(label)),
        total_(std::max(total, 1L)),
        start_(Clock::now()),
        terminal_(isatty(STDERR_FILENO) != 0) {
    if (terminal_) draw(0);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void update(long done) {
    done = std::clamp(done, 0L, total_);
    if (terminal_) {
      const auto now = Clock::now();
      if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      draw(done);
    } else if (done * 10 / total_ > last_tenth_ && seconds() > kQuietSeconds) {
      last_tenth_ = done * 10 / total_;
      draw(done);
    }
  }

  /// A callback for tangent's long calls (tangent::ProgressCallback), moving this bar by the
  /// fraction of the call's work that is done.
  auto tracker() {
    return [this](long done, long total) { update(done * total_ / std::max(total, 1L)); };
  }

  /// Completes the bar (idempotent) and returns the elapsed seconds.
  double finish() {
    if (!finished_) {
      if (terminal_ || last_tenth_ < 10) draw(total_);
      finished_ = true;
    }
    return seconds();
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  /// In a log, steps shorter than this print only their final line.
  static constexpr double kQuietSeconds = 3.0;

  static std::string clock_time(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
  }

  void draw(long done) {
    constexpr int kWidth = 30;
    const double fraction = static_cast<double>(done) / static_cast<double>(total_);
    const int filled = static_cast<int>(fraction * kWidth);
    const double elapsed = seconds();
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string timing = done == total_ ? "done in " + clock_time(elapsed)
                         : done == 0    ? "ETA --:--"
                                        : "ETA " + clock_time(elapsed * (1 - fraction) / fraction);
    std::fprintf(stderr, "%s%-34s [%s] %3d%% %s%s", terminal_ ? "\r" : "", label_.c_str(),
                 bar.c_str(), static_cast<int>(100 * fraction), timing.c_str(),
                 !terminal_      ? "\n"
                 : done < total_ ? "\x1b[K"
                                 : "\x1b[K\n");
    if (!terminal_) std::fflush(stderr);
  }

  std::string label_;
  long total_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  bool terminal_;
  long last_tenth_ = 0;
  bool finished_ = false;
};

}  // namespace examples
