// atomic_file.hpp: commit() replaces the target in one step; without commit() (scope exit or
// exception) the target is untouched and no temporary file is left; failures are IoError
// naming the path.
#include "io_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/io/atomic_file.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

using embedkit::IoError;
using embedkit::io::AtomicFile;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;
namespace fs = std::filesystem;

void put(AtomicFile& f, const std::string& s) { f.write(s.data(), s.size()); }

// AtomicFile's temporaries are `.ek-tmp-` plus 16 hex digits, whatever the target's name.
bool is_temp_of(const std::string& entry, const std::string& /*target*/) {
    if (entry.size() != 24 || entry.rfind(".ek-tmp-", 0) != 0) return false;
    return entry.find_first_not_of("0123456789abcdef", 8) == std::string::npos;
}

// The process umask as /proc/self/status reports it, or -1 where that line is missing. Unlike
// umask(2) this reads the mask without changing it, so a thread can watch it.
int umask_from_proc() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Umask:", 0) == 0)
            return static_cast<int>(std::stoul(line.substr(6), nullptr, 8));
    return -1;
}

TEST_CASE("atomic_file: commit creates the file and until then only a temporary exists beside it") {
    TempDir dir;
    const std::string path = dir.file("new.bin");
    {
        AtomicFile f(path);
        put(f, "hello ");
        put(f, "world");
        const std::vector<std::string> during = dir.entries();
        REQUIRE(during.size() == 1);
        CHECK(is_temp_of(during[0], "new.bin"));
        CHECK_FALSE(fs::exists(path));
        f.commit();
    }
    CHECK(read_file(path) == "hello world");
    CHECK(dir.entries() == std::vector<std::string>{"new.bin"});
}

TEST_CASE("atomic_file: commit replaces an existing file and the old one is intact until then") {
    TempDir dir;
    const std::string path = dir.file("target.txt");
    write_file(path, "old contents that are longer than the new ones");
    {
        AtomicFile f(path);
        put(f, "new");
        CHECK(read_file(path) == "old contents that are longer than the new ones");
        CHECK(dir.entries().size() == 2);
        f.commit();
        CHECK(read_file(path) == "new");
    }
    CHECK(read_file(path) == "new");
    CHECK(dir.entries() == std::vector<std::string>{"target.txt"});
}

TEST_CASE("atomic_file: without commit the target is untouched and no temporary is left") {
    TempDir dir;
    const std::string existing = dir.file("keep.txt");
    write_file(existing, "keep me");
    {
        AtomicFile f(existing);
        put(f, "half-written");
    }  // destroyed without commit
    CHECK(read_file(existing) == "keep me");
    CHECK(dir.entries() == std::vector<std::string>{"keep.txt"});

    const std::string fresh = dir.file("never.txt");
    {
        AtomicFile f(fresh);
        put(f, "abandoned");
    }
    CHECK_FALSE(fs::exists(fresh));
    CHECK(dir.entries() == std::vector<std::string>{"keep.txt"});

    // An exception between the writes and commit(): the same.
    CHECK_THROWS_AS(
        [&] {
            AtomicFile f(existing);
            put(f, "partial");
            throw std::runtime_error("writer failed");
        }(),
        std::runtime_error);
    CHECK(read_file(existing) == "keep me");
    CHECK(dir.entries() == std::vector<std::string>{"keep.txt"});
}

TEST_CASE("atomic_file: a large file written in pieces arrives whole and in order") {
    TempDir dir;
    const std::string path = dir.file("big.bin");
    std::string want;
    {
        AtomicFile f(path);
        for (int piece = 0; piece < 64; ++piece) {
            std::string chunk(131072 + std::size_t(piece), '\0');
            for (std::size_t i = 0; i < chunk.size(); ++i)
                chunk[i] = static_cast<char>((i * 31 + std::size_t(piece) * 7) & 0xFF);
            put(f, chunk);
            want += chunk;
        }
        f.write(nullptr, 0);  // an empty write is allowed
        f.commit();
    }
    CHECK(read_file(path) == want);
}

TEST_CASE("atomic_file: the committed file gets the usual permissions (0666 minus umask)") {
    TempDir dir;
    for (const mode_t mask : {mode_t(022), mode_t(077), mode_t(002)}) {
        CAPTURE(mask);
        const mode_t previous = ::umask(mask);
        const std::string path = dir.file("perm" + std::to_string(mask) + ".txt");
        {
            AtomicFile f(path);
            put(f, "x");
            f.commit();
        }
        ::umask(previous);
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == (0666 & ~mask));
    }
}

TEST_CASE("atomic_file: saves on several threads never touch the umask and get 0666 minus umask") {
    // Hardening II: commit() used to read the umask with umask(0); umask(mask). The umask is
    // per process, so a second thread could read 0 (its file became 0666) or restore 0 (the
    // process kept umask 000). A watcher thread reads the mask from /proc without changing it.
    TempDir dir;
    const mode_t mask = 022;
    const mode_t previous = ::umask(mask);
    const bool can_watch = umask_from_proc() == int(mask);
    std::atomic<bool> stop{false};
    std::atomic<int> changed_to{-1};
    std::thread watcher([&] {
        while (can_watch && !stop.load()) {
            const int now = umask_from_proc();
            if (now != int(mask)) changed_to = now;
        }
    });
    constexpr int threads = 6, saves = 150;
    std::vector<std::thread> savers;
    for (int t = 0; t < threads; ++t)
        savers.emplace_back([&dir, t] {
            for (int i = 0; i < saves; ++i) {
                AtomicFile f(dir.file("t" + std::to_string(t) + "_" + std::to_string(i % 10)));
                f.write("data", 4);
                f.commit();
            }
        });
    for (std::thread& s : savers) s.join();
    stop = true;
    watcher.join();
    const mode_t after = ::umask(previous);
    CHECK(after == mask);
    CHECK_MESSAGE(changed_to.load() == -1, "another thread saw the umask at "
                                               << changed_to.load()
                                               << " (decimal) during the saves");
    int wrong = 0;
    for (const std::string& name : dir.entries()) {
        struct stat st {};
        REQUIRE(::stat(dir.file(name).c_str(), &st) == 0);
        if ((st.st_mode & 0777) != (0666 & ~mask)) ++wrong;
    }
    CHECK(dir.entries().size() == std::size_t(threads) * 10);
    CHECK_MESSAGE(wrong == 0, wrong << " files do not have mode 0644");
}

TEST_CASE("atomic_file: a target name of 255 bytes (NAME_MAX) is written") {
    // Hardening II: the temporary used to be the target's name plus 11 bytes, so names of
    // 245-255 bytes failed with ENAMETOOLONG.
    TempDir dir;
    for (const std::size_t length : {std::size_t(244), std::size_t(245), std::size_t(255)}) {
        CAPTURE(length);
        const std::string name(length, 'n');
        const std::string path = dir.file(name);
        {
            AtomicFile f(path);
            put(f, "long name");
            const std::vector<std::string> during = dir.entries();
            CHECK(std::count_if(during.begin(), during.end(),
                                [&](const std::string& e) { return is_temp_of(e, name); }) == 1);
            f.commit();
        }
        CHECK(read_file(path) == "long name");
    }
    CHECK(dir.entries().size() == 3);
}

TEST_CASE("atomic_file: a path without a folder is relative to the working directory") {
    TempDir dir;
    const fs::path previous = fs::current_path();
    fs::current_path(dir.path());
    {
        AtomicFile f("plain.txt");
        put(f, "here");
        f.commit();
    }
    fs::current_path(previous);
    CHECK(read_file(dir.file("plain.txt")) == "here");
    CHECK(dir.entries() == std::vector<std::string>{"plain.txt"});
}

TEST_CASE("atomic_file: failures throw IoError naming the path and leave nothing behind") {
    TempDir dir;
    const std::string nowhere = dir.file("missing/folder/out.bin");
    check_throws<IoError>([&] { AtomicFile f(nowhere); }, {nowhere, "embedkit::io"});
    CHECK(dir.entries().empty());

    // The target is a folder: the rename fails, the folder stays, the temporary goes.
    const std::string folder = dir.file("folder");
    fs::create_directory(folder);
    write_file(dir.file("folder/inside.txt"), "inside");
    check_throws<IoError>(
        [&] {
            AtomicFile f(folder);
            put(f, "data");
            f.commit();
        },
        {folder});
    CHECK(dir.entries() == std::vector<std::string>{"folder"});
    CHECK(read_file(dir.file("folder/inside.txt")) == "inside");
}

}  // namespace
