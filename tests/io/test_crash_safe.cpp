// Crash-safe saves: a child process writes training checkpoints in a loop and is killed with
// SIGKILL at random moments, hundreds of times. After every kill the checkpoint must load with
// a valid checksum and be byte for byte one of the checkpoints the child wrote, never older than
// the one seen after the previous kill.
//
// This proves atomic replacement (no torn or missing file after a process crash). It cannot
// prove durability after a power loss: SIGKILL keeps the page cache, so it would pass without
// the fsync calls too (docs/FORMAT.md, "Durability").
#include "io_test_util.hpp"

#include <embedkit/core/random.hpp>
#include <embedkit/io/model_file.hpp>
#include <embedkit/models/autoencoder.hpp>
#include <embedkit/nn/optim.hpp>
#include <embedkit/nn/trainer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using Model = embedkit::models::Autoencoder<float>;

// Checkpoint number g: one of two models (g % 2) and a history of g epochs, so consecutive
// checkpoints differ in the weights, the epoch count and the history tensors (~300 KB each).
struct Checkpoints {
    std::vector<Model> models;
    embedkit::nn::Adam<float> optimizer;
    embedkit::Rng rng{7};

    Checkpoints() {
        embedkit::models::AutoencoderOptions o;
        o.input = 256;
        o.hidden = {128, 64};
        o.latent = 16;
        for (std::uint64_t seed : {1u, 2u}) {
            embedkit::Rng r(seed);
            models.emplace_back(o, r);
        }
    }
    static embedkit::nn::History history(std::uint64_t g) {
        embedkit::nn::History h(static_cast<std::size_t>(g));
        for (std::size_t i = 0; i < h.size(); ++i) {
            h[i].epoch = static_cast<int>(i + 1);
            h[i].loss = 100.0 / static_cast<double>(i + 1);
            h[i].seconds = 0.5 + static_cast<double>(i);
            h[i].learning_rate = 1e-3;
        }
        return h;
    }
    void write(const std::string& path, std::uint64_t g) const {
        embedkit::models::save_checkpoint(path, models[g % 2], optimizer, rng, history(g), 100,
                                          60000);
    }
    std::string bytes(std::uint64_t g) const {
        const auto v = embedkit::io::serialize_model_file(embedkit::models::checkpoint_file(
            models[g % 2], optimizer, rng, history(g), 100, 60000));
        return std::string(v.begin(), v.end());
    }
};

int kills_wanted() {
    if (const char* e = std::getenv("EMBEDKIT_KILL_TEST_KILLS")) return std::max(1, std::atoi(e));
    return 500;
}

// Kills and reaps the child if a check fails while it runs, so no writer outlives the test.
struct ChildGuard {
    pid_t pid;
    ~ChildGuard() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

}  // namespace

TEST_CASE(
    "crash-safe saves: SIGKILL during checkpoint saves never leaves a corrupt or missing file") {
    iotest::TempDir dir;
    const std::string path = dir.file("run.ekm.checkpoint");
    const Checkpoints cp;
    cp.write(path, 0);
    const std::string kind = cp.models[0].kind() + ".checkpoint";

    // One save's duration, measured here (slow disks, sanitizers and emulators differ).
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) cp.write(path, 0);
    const auto save_us = std::max<long long>(
        1,
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
                .count() /
            3);

    const int kills = kills_wanted();
    embedkit::Rng rng(20261124);
    std::uint64_t last_seen = 0;
    std::uint64_t next_first = 1;  // the child continues numbering after what was seen
    int after_completed_save = 0, stale_temps = 0;
    for (int k = 0; k < kills; ++k) {
        int done_pipe[2];
        REQUIRE(::pipe(done_pipe) == 0);
        const pid_t parent = ::getpid();
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            // The child: write checkpoints next_first, next_first + 1, ... and report each
            // completed save with one byte on the pipe. It dies with the parent, never returns
            // into the test framework, and stops after 10,000 saves at the latest.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(4);
            ::close(done_pipe[0]);
            try {
                for (std::uint64_t g = next_first; g < next_first + 10000; ++g) {
                    cp.write(path, g);
                    const char byte = 1;
                    if (::write(done_pipe[1], &byte, 1) != 1) ::_exit(5);
                }
            } catch (...) {}
            ::_exit(3);
        }
        ChildGuard guard{child};
        ::close(done_pipe[1]);
        // Wait for 0, 1 or 2 completed saves, then kill at a random moment of the next one (or
        // of its serialisation before mkstemp, or between write, fsync and rename).
        const auto completed = static_cast<int>(rng.uniform_index(3));
        for (int c = 0; c < completed; ++c) {
            char byte = 0;
            REQUIRE_MESSAGE(::read(done_pipe[0], &byte, 1) == 1, "the child stopped before save ",
                            c + 1);
        }
        const auto delay =
            static_cast<long long>(rng.uniform_index(static_cast<std::uint64_t>(save_us) + 1));
        std::this_thread::sleep_for(std::chrono::microseconds(delay));
        REQUIRE(::kill(child, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        guard.pid = -1;
        ::close(done_pipe[0]);
        INFO("kill ", k + 1, " after ", completed, " completed saves and ", delay, " us");
        REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited by itself (status ", status, ")");
        REQUIRE(WTERMSIG(status) == SIGKILL);

        // The checkpoint loads with its checksum verified and is exactly checkpoint g: the one
        // seen before, or (certainly after a completed save) one this child wrote.
        const embedkit::io::ModelFile loaded = embedkit::io::load_model_file(path, kind);
        const std::uint64_t g = loaded.scalar<std::uint64_t>("fit.epoch");
        INFO("checkpoint ", g, " found, ", last_seen, " seen before");
        if (completed > 0) {
            REQUIRE(g >= next_first + static_cast<std::uint64_t>(completed) - 1);
            ++after_completed_save;
        } else {
            REQUIRE((g == last_seen || g >= next_first));
        }
        REQUIRE(iotest::read_file(path) == cp.bytes(g));
        last_seen = g;
        next_first = std::max(next_first, g + 1);

        // A kill between creating the temporary and the rename leaves it behind (documented); the
        // target never depends on it. Remove it so the folder does not fill up.
        for (const auto& name : dir.entries()) {
            if (name == "run.ekm.checkpoint") continue;
            REQUIRE_MESSAGE(name.rfind(".ek-tmp-", 0) == 0, "unexpected file ", name);
            ++stale_temps;
            std::filesystem::remove(dir.path() / name);
        }
    }
    MESSAGE(kills, " kills (one save takes ", save_us, " us): ", after_completed_save,
            " after at least one completed save, a temporary file was left by ", stale_temps);
    // Some kills must land inside a save (after the temporary exists), or the test proves little.
    if (kills >= 50) CHECK(stale_temps > 0);
}
