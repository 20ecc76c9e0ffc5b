// The exception hierarchy: every error embedkit throws derives from embedkit::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace embedkit {

/// Base of every exception embedkit throws; a std::runtime_error whose message names the
/// function, what it expected and what it got.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Sizes that do not fit together (vector lengths, matrix columns); the message names both.
class DimensionError : public Error {
public:
    using Error::Error;
};

/// An argument outside its valid range (k <= 0, an unsupported SIMD level, ...).
class ArgumentError : public Error {
public:
    using Error::Error;
};

/// A file whose contents are not what the format requires (magic, version, size, checksum).
class FormatError : public Error {
public:
    using Error::Error;
};

/// A file that cannot be opened, read or written.
class IoError : public Error {
public:
    using Error::Error;
};

/// A computation produced NaN or Inf where a finite value is required (a training loss); the
/// message names where (epoch and batch).
class NumericError : public Error {
public:
    using Error::Error;
};

}  // namespace embedkit
