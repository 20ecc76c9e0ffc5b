// embedkit version numbers (semantic versioning: MAJOR.MINOR.PATCH).
#pragma once

#define EMBEDKIT_VERSION_MAJOR 0
#define EMBEDKIT_VERSION_MINOR 3
#define EMBEDKIT_VERSION_PATCH 0
#define EMBEDKIT_VERSION_STRING "0.3.0"

namespace embedkit {

/// The library version as "MAJOR.MINOR.PATCH".
inline constexpr const char* version() noexcept { return EMBEDKIT_VERSION_STRING; }

}  // namespace embedkit
