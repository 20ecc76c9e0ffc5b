// Small path helpers shared by the MNIST reader and downloader.
#pragma once

#include <string>

#include <sys/stat.h>

namespace embedkit::detail {

/// dir + "/" + name (no doubled '/'); just name when dir is empty.
inline std::string join_path(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    return dir.back() == '/' ? dir + name : dir + "/" + name;
}

/// True if something (file, folder, ...) exists at path.
inline bool path_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace embedkit::detail
