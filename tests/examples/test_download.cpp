// download.hpp: MD5 against RFC 1321's test vectors, md5sum and the published MNIST sums;
// download_mnist against a local HTTP server (python3 -m http.server on 127.0.0.1) serving
// the real .gz files when EMBEDKIT_MNIST_DIR has them, small stand-ins otherwise: verified
// fetches, MD5 mismatch leaving nothing under the final name, dead mirrors, wget fallback,
// and the errors when nothing works.
#include "../io/io_test_util.hpp"

#include <embedkit/core/config.hpp>
#include <embedkit/core/error.hpp>
#include "download.hpp"
#include <embedkit/io/mnist.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;
namespace io = embedkit::io;
namespace dl = example;
namespace fs = std::filesystem;

std::string md5_of(const std::string& s) {
    return dl::md5_hex(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

/// Sets an environment variable for the scope, restoring the old value (or its absence).
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        const char* old = std::getenv(name);
        had_ = old != nullptr;
        if (had_) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (had_)
            ::setenv(name_, old_.c_str(), 1);
        else
            ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

/// `python3 -m http.server` serving `root` on 127.0.0.1 at a port the kernel picks (port 0;
/// the server prints the one it got), started as a child process and always stopped by the
/// destructor, also when a check fails.
class HttpServer {
public:
    explicit HttpServer(const std::string& root) {
        try {
            start(root);
        } catch (...) {
            stop();
            throw;
        }
    }
    ~HttpServer() { stop(); }
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

private:
    void start(const std::string& root) {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        out_ = fds[0];
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);  // request log
        const std::vector<std::string> args = {
            "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root};
        std::vector<char*> argv;
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        if (rc != 0) pid_ = -1;
        REQUIRE_MESSAGE(rc == 0, "cannot start python3: " << std::strerror(rc));
        // "Serving HTTP on 127.0.0.1 port 40613 (http://127.0.0.1:40613/) ..."
        std::string text;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        std::size_t at = std::string::npos;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                char buf[256];
                const ssize_t got = ::read(out_, buf, sizeof buf);
                if (got <= 0) break;  // the server exited
                text.append(buf, static_cast<std::size_t>(got));
            }
            at = text.find(" port ");
            if (at != std::string::npos && text.find(' ', at + 6) != std::string::npos) break;
        }
        REQUIRE_MESSAGE(at != std::string::npos,
                        "http.server did not report its port; it said: " << text);
        port_ = std::atoi(text.c_str() + at + 6);
        REQUIRE(port_ > 0);
        // Wait until it accepts connections.
        bool up = false;
        for (int i = 0; i < 200 && !up; ++i) {
            const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<std::uint16_t>(port_));
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(s);
            if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE_MESSAGE(up, "http.server on port " << port_ << " does not accept connections");
    }

    void stop() noexcept {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            for (int i = 0; i < 100; ++i) {
                if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                    pid_ = -1;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            if (pid_ > 0) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                pid_ = -1;
            }
        }
        if (out_ >= 0) {
            ::close(out_);
            out_ = -1;
        }
    }

    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
};

/// A TCP port on 127.0.0.1 that refuses connections: bound (so nobody else gets it) but
/// not listening, for the whole scope.
class DeadPort {
public:
    DeadPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
    }
    ~DeadPort() { ::close(fd_); }
    DeadPort(const DeadPort&) = delete;
    DeadPort& operator=(const DeadPort&) = delete;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mnist/"; }

private:
    int fd_ = -1;
    int port_ = 0;
};

/// The files a test serves: the four real .gz files when EMBEDKIT_MNIST_DIR holds them,
/// otherwise stand-ins with the same names and their own MD5s (passed through
/// DownloadOptions::files).
struct Served {
    bool real = false;
    std::vector<std::string> names, md5s, contents;

    std::vector<dl::MnistFile> files(std::initializer_list<std::size_t> which) const {
        std::vector<dl::MnistFile> out;
        for (std::size_t i : which) out.push_back({names[i].c_str(), md5s[i].c_str()});
        return out;
    }
    std::vector<dl::MnistFile> all() const { return files({0, 1, 2, 3}); }
};

Served served_files() {
    Served s;
    const char* env = std::getenv("EMBEDKIT_MNIST_DIR");
    bool real = env != nullptr && *env != '\0';
    for (const dl::MnistFile& f : dl::mnist_files)
        real = real && fs::exists(std::string(env) + "/" + f.name);
    s.real = real;
    for (const dl::MnistFile& f : dl::mnist_files) {
        s.names.push_back(f.name);
        if (real) {
            s.contents.push_back(read_file(std::string(env) + "/" + f.name));
            s.md5s.push_back(f.md5);
        } else {
            std::string fake = std::string("stand-in for ") + f.name + "\n";
            for (int i = 0; i < 5000; ++i)
                fake.push_back(static_cast<char>((i * 131 + fake.size()) % 251));
            s.contents.push_back(fake);
            s.md5s.push_back(md5_of(fake));
        }
    }
    if (!real) MESSAGE("EMBEDKIT_MNIST_DIR lacks the .gz files: serving small stand-ins");
    return s;
}

dl::DownloadOptions options(std::vector<std::string> mirrors, std::vector<dl::MnistFile> files) {
    dl::DownloadOptions o;
    o.mirrors = std::move(mirrors);
    o.files = std::move(files);
    o.quiet = true;
    return o;
}

// No proxy may stand between curl and 127.0.0.1.
struct NoProxy {
    ScopedEnv lower{"no_proxy", "127.0.0.1,localhost"};
    ScopedEnv upper{"NO_PROXY", "127.0.0.1,localhost"};
};

TEST_CASE("download: md5_hex matches the RFC 1321 test suite") {
    CHECK(md5_of("") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(md5_of("a") == "0cc175b9c0f1b6a831c399e269772661");
    CHECK(md5_of("abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(md5_of("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK(md5_of("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b");
    CHECK(md5_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
          "d174ab98d277d9f5a5611c2c9f419d9f");
    CHECK(md5_of(
              "12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
          "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("download: md5 padding edges and incremental updates agree") {
    // Lengths around the 56- and 64-byte padding boundaries (digests from Python's hashlib).
    const std::pair<std::size_t, const char*> as[] = {
        {55, "ef1772b6dff9a122358552954ad0df65"},   {56, "3b0c8ac703f828b04c6c197006d17218"},
        {57, "652b906d60af96844ebd21b674f35e93"},   {63, "b06521f39153d618550606be297466d5"},
        {64, "014842d480b571495a4a0363793f7367"},   {65, "c743a45e0d2e6a95cb859adae0248435"},
        {119, "8a7bd0732ed6a28ce75f6dabc90e1613"},  {120, "5f61c0ccad4cac44c75ff505e1f1e537"},
        {1000, "cabe45dcc9ae5b66ba86600cca6b8ba8"},
    };
    for (const auto& a : as) {
        CAPTURE(a.first);
        CHECK(md5_of(std::string(a.first, 'a')) == a.second);
    }
    // Feeding the same message in two pieces split anywhere gives the same digest.
    std::string msg;
    for (int i = 0; i < 300; ++i) msg.push_back(static_cast<char>(i * 7 + 3));
    const std::string whole = md5_of(msg);
    const auto* p = reinterpret_cast<const unsigned char*>(msg.data());
    for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
        example::detail::Md5 md5;
        md5.update(p, cut);
        md5.update(p + cut, msg.size() - cut);
        CHECK(md5.hex_digest() == whole);
    }
}

TEST_CASE("download: md5_file agrees with md5sum and with the published MNIST sums") {
    TempDir dir;
    std::string data;
    std::uint32_t x = 1;
    for (int i = 0; i < (3 << 20) + 17; ++i) {  // spans several 1 MB read chunks
        x = x * 1103515245u + 12345u;
        data.push_back(static_cast<char>(x >> 24));
    }
    const std::string path = dir.file("random.bin");
    write_file(path, data);
    const std::string ours = dl::md5_file(path);
    CHECK(ours == md5_of(data));
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(("md5sum '" + path + "'").c_str(), "r"),
                                               ::pclose);
    REQUIRE(pipe != nullptr);
    char line[128] = {};
    REQUIRE(std::fgets(line, sizeof line, pipe.get()) != nullptr);
    CHECK(std::string(line).substr(0, 32) == ours);
    check_throws<IoError>([&] { (void)dl::md5_file(dir.file("absent")); },
                          {"md5_file", dir.file("absent")});

    const char* env = std::getenv("EMBEDKIT_MNIST_DIR");
    if (env == nullptr || !fs::exists(std::string(env) + "/" + dl::mnist_files[0].name)) {
        MESSAGE("EMBEDKIT_MNIST_DIR lacks the .gz files: published sums not checked against them");
        return;
    }
    for (const dl::MnistFile& f : dl::mnist_files) {
        CAPTURE(f.name);
        CHECK(dl::md5_file(std::string(env) + "/" + f.name) == f.md5);
    }
}

TEST_CASE("download: fetches every file from a local server and verifies it") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out;
    for (std::size_t i = 0; i < 4; ++i) write_file(root.file(s.names[i]), s.contents[i]);
    HttpServer server(root.path().string());
    const std::string dir = out.file("nested/mnist");  // created on the way
    dl::download_mnist(dir, options({server.url()}, s.all()));
    std::vector<std::string> got;
    for (const auto& e : fs::directory_iterator(dir)) got.push_back(e.path().filename().string());
    std::sort(got.begin(), got.end());
    std::vector<std::string> want = s.names;
    std::sort(want.begin(), want.end());
    CHECK(got == want);  // and no temporary files left
    for (std::size_t i = 0; i < 4; ++i) CHECK(read_file(dir + "/" + s.names[i]) == s.contents[i]);
    if (s.real && EMBEDKIT_HAS_ZLIB) {
        const io::MnistData test = io::load_mnist(dir, io::MnistSplit::test);
        CHECK(test.images.rows() == 10000);
        CHECK(test.labels[0] == 7);
    }
    // Files present with the right MD5 are kept: a second run needs no working mirror.
    DeadPort dead;
    dl::download_mnist(dir, options({dead.url()}, s.all()));
    for (std::size_t i = 0; i < 4; ++i) CHECK(read_file(dir + "/" + s.names[i]) == s.contents[i]);
}

TEST_CASE("download: a corrupted file gives FormatError about its MD5 and leaves no file") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out;
    std::string bad = s.contents[3];
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 1);
    write_file(root.file(s.names[3]), bad);
    HttpServer server(root.path().string());
    const std::string dir = out.path().string();
    check_throws<FormatError>(
        [&] { dl::download_mnist(dir, options({server.url()}, s.files({3}))); },
        {"example::download_mnist", "MD5 mismatch", s.names[3], "expected " + s.md5s[3],
         "got " + md5_of(bad), server.url() + s.names[3]});
    CHECK(out.entries().empty());  // neither the final name nor a temporary file
}

TEST_CASE("download: a dead mirror followed by a live one works") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out;
    write_file(root.file(s.names[1]), s.contents[1]);
    write_file(root.file(s.names[3]), s.contents[3]);
    HttpServer server(root.path().string());
    DeadPort dead;
    std::string live = server.url();
    live.pop_back();  // a mirror without the final '/' works too
    const std::string dir = out.path().string();
    dl::download_mnist(dir, options({dead.url(), live}, s.files({1, 3})));
    CHECK(out.entries() == std::vector<std::string>{s.names[3], s.names[1]});
    CHECK(read_file(out.file(s.names[1])) == s.contents[1]);
    CHECK(read_file(out.file(s.names[3])) == s.contents[3]);
}

TEST_CASE("download: a bad mirror before a good one is skipped") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir bad_root, good_root, out;
    write_file(bad_root.file(s.names[3]), s.contents[3] + "extra");
    write_file(good_root.file(s.names[3]), s.contents[3]);
    HttpServer bad(bad_root.path().string());
    HttpServer good(good_root.path().string());
    dl::download_mnist(out.path().string(), options({bad.url(), good.url()}, s.files({3})));
    CHECK(out.entries() == std::vector<std::string>{s.names[3]});
    CHECK(read_file(out.file(s.names[3])) == s.contents[3]);
}

TEST_CASE("download: when every mirror fails the IoError lists each URL tried") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out;  // the server has no files: 404
    HttpServer server(root.path().string());
    DeadPort dead;
    check_throws<IoError>(
        [&] {
            dl::download_mnist(out.path().string(),
                               options({dead.url(), server.url()}, s.files({1})));
        },
        {"example::download_mnist", s.names[1], dead.url() + s.names[1], server.url() + s.names[1],
         "404"});
    CHECK(out.entries().empty());
}

TEST_CASE("download: a present file with the wrong MD5 is replaced") {
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out;
    write_file(root.file(s.names[3]), s.contents[3]);
    write_file(out.file(s.names[3]), "half a file");
    HttpServer server(root.path().string());
    dl::download_mnist(out.path().string(), options({server.url()}, s.files({3})));
    CHECK(read_file(out.file(s.names[3])) == s.contents[3]);
    CHECK(out.entries() == std::vector<std::string>{s.names[3]});
}

TEST_CASE("download: falls back to wget when there is no curl") {
    const std::string wget = example::detail::find_on_path("wget");
    if (wget.empty()) {
        MESSAGE("wget is not installed: fallback not tested");
        return;
    }
    NoProxy no_proxy;
    const Served s = served_files();
    TempDir root, out, bin;
    write_file(root.file(s.names[1]), s.contents[1]);
    HttpServer server(root.path().string());
    fs::create_symlink(wget, bin.file("wget"));
    {
        ScopedEnv path("PATH", bin.path().string());
        REQUIRE(example::detail::find_on_path("curl").empty());
        dl::download_mnist(out.path().string(), options({server.url()}, s.files({1})));
        // wget too reports a corrupt file as an MD5 mismatch.
        std::vector<dl::MnistFile> wrong = s.files({1});
        const std::string zeros(32, '0');
        wrong[0].md5 = zeros.c_str();
        TempDir out2;
        check_throws<FormatError>(
            [&] { dl::download_mnist(out2.path().string(), options({server.url()}, wrong)); },
            {"MD5 mismatch", zeros});
        CHECK(out2.entries().empty());
    }
    CHECK(read_file(out.file(s.names[1])) == s.contents[1]);
}

TEST_CASE("download: without curl and wget the IoError says to install curl") {
    TempDir empty_bin, out;
    const std::string dir = out.file("never");
    ScopedEnv path("PATH", empty_bin.path().string());
    check_throws<IoError>(
        [&] {
            dl::download_mnist(dir, options({"http://127.0.0.1:9/"}, dl::DownloadOptions{}.files));
        },
        {"example::download_mnist", "curl", "wget", "apt-get install curl"});
    CHECK_FALSE(fs::exists(dir));
}

}  // namespace
