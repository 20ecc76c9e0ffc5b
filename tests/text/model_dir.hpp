// Where the tests find all-MiniLM-L6-v2: $EMBEDKIT_MODEL_DIR, else the folder scripts/get-model
// fills. Without it a test is skipped with a message, except under CI=true, where it fails.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include <sys/stat.h>

namespace embedkit_test {

/// The model folder, or "" after reporting the skip (or the failure, under CI=true).
inline std::string minilm_dir_or_skip() {
    const char* env = std::getenv("EMBEDKIT_MODEL_DIR");
    const std::string dir = env != nullptr && *env != 0 ? env : EMBEDKIT_DEFAULT_MODEL_DIR;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return dir;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true")
        FAIL("all-MiniLM-L6-v2 not found at '", dir,
             "': CI must fetch it (scripts/get-model, which scripts/test runs)");
    MESSAGE("skipped: all-MiniLM-L6-v2 not found at '", dir, "' (run scripts/get-model)");
    return std::string();
}

}  // namespace embedkit_test
