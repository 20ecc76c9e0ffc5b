// A progress bar for long loops (training epochs): on a terminal one line redrawn in place
// with a bar, counts, the caller's status, elapsed time and ETA; elsewhere (logs, pipes) one
// plain line per finished task.
#pragma once

#include "error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include <sys/ioctl.h>
#include <unistd.h>

namespace embedkit {

/// Where and how a ProgressBar reports.
struct ProgressOptions {
    /// How progress is shown. automatic: `bar` when the stream is std::cerr, std::clog or
    /// std::cout and that file descriptor is a terminal, else `lines`.
    enum class Style { automatic, bar, lines, silent };

    std::ostream* stream = nullptr;  ///< nullptr: std::cerr
    Style style = Style::automatic;
    int width = 0;  ///< columns a bar line may use; 0: the terminal's width (80 if unknown)
    std::chrono::milliseconds min_interval{100};  ///< least time between two redraws of the bar
    /// The time source; nullptr: std::chrono::steady_clock::now. Tests pass a fake clock.
    std::chrono::steady_clock::time_point (*clock)() = nullptr;
};

/// Progress of one task of `total` steps (an epoch of `total` batches).
///
/// Style bar: update() redraws one line in place ('\r', no escape codes) at most once per
/// min_interval: `title [=====>    ] done/total  status  elapsed ETA remaining`, shortened to
/// the width; finish() replaces it with `summary (2.1 s)` and a newline.
/// Style lines: update() prints nothing; finish() prints exactly `summary (2.1 s)\n`.
/// Style silent: nothing is printed.
/// update() costs one clock read when it does not draw (nothing at all unless the style is
/// bar), and the lazy overload composes its status only when it draws, so calling it for
/// every batch is free. If a drawn bar is destroyed unfinished (an exception), it ends its
/// line so the next message starts on a fresh one.
class ProgressBar {
public:
    using Style = ProgressOptions::Style;
    using Clock = std::chrono::steady_clock;

    /// Starts the clock. total: number of steps, >= 0 (0: unknown, no bar or ETA).
    /// Throws ArgumentError for a negative total, width or min_interval.
    ProgressBar(std::string title, std::int64_t total, ProgressOptions options = {})
        : title_(std::move(title)), total_(total), options_(options) {
        if (total < 0)
            throw ArgumentError("embedkit::ProgressBar: total must be >= 0 (0 = unknown), got " +
                                std::to_string(total));
        if (options.width < 0)
            throw ArgumentError(
                "embedkit::ProgressBar: width must be >= 0 (0 = the terminal's), got " +
                std::to_string(options.width));
        if (options.min_interval.count() < 0)
            throw ArgumentError("embedkit::ProgressBar: min_interval must be >= 0 ms, got " +
                                std::to_string(options.min_interval.count()));
        stream_ = options_.stream != nullptr ? options_.stream : &std::cerr;
        int fd = -1;
        if (stream_ == &std::cerr || stream_ == &std::clog)
            fd = STDERR_FILENO;
        else if (stream_ == &std::cout)
            fd = STDOUT_FILENO;
        const bool tty = fd >= 0 && ::isatty(fd) == 1;
        style_ = options_.style;
        if (style_ == Style::automatic) style_ = tty ? Style::bar : Style::lines;
        width_ = options_.width;
        if (width_ == 0) {
#ifdef TIOCGWINSZ
            struct winsize ws {};
            if (tty && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width_ = ws.ws_col;
#endif
            if (width_ == 0) width_ = 80;
        }
        start_ = now();
    }

    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    ~ProgressBar() {
        if (style_ == Style::bar && drawn_ && !finished_) {
            try {
                *stream_ << '\n' << std::flush;
            } catch (...) {  // a destructor must not throw; losing a newline is harmless
            }
        }
    }

    /// The style in use (automatic already resolved to bar or lines).
    Style style() const noexcept { return style_; }

    /// Records that `done` of total steps are complete; with style bar, redraws the line if
    /// min_interval has passed since the last redraw (the first update always draws).
    /// `status` is the caller's text, e.g. "loss 152.31". Does nothing after finish().
    void update(std::int64_t done, const std::string& status = std::string()) {
        done_ = done;
        if (style_ != Style::bar || finished_) return;
        const Clock::time_point t = now();
        if (!due(t)) return;
        draw(t, status);
    }

    /// As update(done, status), but calls make_status() (returning std::string) only when the
    /// line is redrawn, so formatting costs nothing on the calls that do not draw.
    template <class F, class = std::enable_if_t<std::is_invocable_r_v<std::string, F&>>>
    void update(std::int64_t done, F&& make_status) {
        done_ = done;
        if (style_ != Style::bar || finished_) return;
        const Clock::time_point t = now();
        if (!due(t)) return;
        draw(t, make_status());
    }

    /// Ends the task: prints `summary (S.s s)` on its own line (bar: over the bar; lines: one
    /// new line; silent: nothing), where S.s is the seconds since construction. An empty
    /// summary prints `title: done/total`. Returns those seconds; later calls print nothing
    /// and return the same value.
    double finish(const std::string& summary = std::string()) {
        if (finished_) return seconds_;
        finished_ = true;
        seconds_ = std::chrono::duration<double>(now() - start_).count();
        if (style_ == Style::silent) return seconds_;
        std::string line = summary.empty() ? title_ + ": " + counts() : summary;
        char buf[48];
        std::snprintf(buf, sizeof buf, " (%.1f s)", seconds_);
        line += buf;
        if (style_ == Style::bar) {
            const std::size_t len = line.size();
            if (len < last_len_) line.append(last_len_ - len, ' ');
            *stream_ << '\r' << line << '\n' << std::flush;
        } else {
            *stream_ << line << '\n' << std::flush;
        }
        return seconds_;
    }

    /// Seconds since construction (or until finish()).
    double elapsed_seconds() const {
        return finished_ ? seconds_ : std::chrono::duration<double>(now() - start_).count();
    }

private:
    Clock::time_point now() const {
        return options_.clock != nullptr ? options_.clock() : Clock::now();
    }

    bool due(Clock::time_point t) const {
        return !drawn_ || t - last_draw_ >= options_.min_interval;
    }

    std::string counts() const {
        return total_ > 0 ? std::to_string(done_) + '/' + std::to_string(total_)
                          : std::to_string(done_);
    }

    // "4.2s" below a minute, "3:07" below an hour, "1:02:03" beyond.
    static std::string duration_text(double s) {
        char buf[48];
        if (!(s >= 0)) s = 0;
        if (s < 60) {
            std::snprintf(buf, sizeof buf, "%.1fs", s);
        } else {
            const long long t = static_cast<long long>(s + 0.5);
            if (t < 3600)
                std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
            else
                std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
        }
        return buf;
    }

    void draw(Clock::time_point t, const std::string& status) {
        drawn_ = true;
        last_draw_ = t;
        const double elapsed = std::chrono::duration<double>(t - start_).count();
        std::string tail = ' ' + counts();
        if (!status.empty()) tail += "  " + status;
        tail += "  " + duration_text(elapsed);
        if (total_ > 0 && done_ > 0) {
            const double left = done_ >= total_ ? 0.0
                                                : elapsed * static_cast<double>(total_ - done_) /
                                                      static_cast<double>(done_);
            tail += " ETA " + duration_text(left);
        }
        std::string line = title_;
        if (total_ > 0) {
            // The bar takes what the width leaves, between 10 and 30 columns.
            const long long room = static_cast<long long>(width_) - 1 -
                                   static_cast<long long>(title_.size() + tail.size()) - 3;
            const int bar = static_cast<int>(std::clamp<long long>(room, 10, 30));
            const double frac =
                std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
            const int full = static_cast<int>(frac * bar);
            if (!line.empty()) line += ' ';
            line += '[';
            line.append(static_cast<std::size_t>(full), '=');
            if (full < bar) {
                line += '>';
                line.append(static_cast<std::size_t>(bar - full - 1), ' ');
            }
            line += ']';
        }
        line += tail;
        // Never wider than the terminal (a wrapped line cannot be redrawn with '\r'); cut
        // before a UTF-8 continuation byte rather than inside a character.
        const std::size_t max_len = static_cast<std::size_t>(std::max(width_ - 1, 1));
        if (line.size() > max_len) {
            std::size_t cut = max_len;
            while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
            line.resize(cut);
        }
        const std::size_t len = line.size();
        if (len < last_len_) line.append(last_len_ - len, ' ');
        last_len_ = len;
        *stream_ << '\r' << line << std::flush;
    }

    std::string title_;
    std::int64_t total_;
    ProgressOptions options_;
    std::ostream* stream_ = nullptr;
    Style style_ = Style::lines;
    int width_ = 80;
    Clock::time_point start_{}, last_draw_{};
    std::int64_t done_ = 0;
    std::size_t last_len_ = 0;
    double seconds_ = 0;
    bool drawn_ = false;
    bool finished_ = false;
};

}  // namespace embedkit
