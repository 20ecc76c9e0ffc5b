// The bad-input table's test side. Every row of docs/ERRORS.md is checked by exactly one
//   EMBEDKIT_ERROR_ROW("ID", ExceptionType, "message fragment", statement...);
// which runs the statement and requires it to throw exactly ExceptionType (not a subclass, not a
// base) with a what() containing the fragment. test_errors_doc.cpp reads docs/ERRORS.md and these
// sources and fails when an ID, type or fragment differs between the two, so the user-facing
// table cannot drift from what the tests check.
#pragma once

#include <embedkit/core/error.hpp>

#include <doctest/doctest.h>

#include <exception>
#include <string>
#include <typeinfo>

namespace embedkit_test {

template <class Expected, class F>
void check_error_row(const char* id, const char* fragment, F&& f) {
    INFO("bad-input row ", std::string(id));  // a const char* would be logged as a pointer
    bool threw = false;
    try {
        f();
    } catch (const std::exception& e) {
        threw = true;
        const std::string what = e.what();
        INFO("what(): ", what);
        CHECK_MESSAGE(typeid(e) == typeid(Expected), "threw ", typeid(e).name(), ", expected ",
                      typeid(Expected).name());
        CHECK_MESSAGE(what.find(fragment) != std::string::npos, "message lacks \"",
                      std::string(fragment), "\"");
    }
    CHECK_MESSAGE(threw, "no exception thrown");
}

}  // namespace embedkit_test

#define EMBEDKIT_ERROR_ROW(id, Type, fragment, ...) \
    ::embedkit_test::check_error_row<Type>(id, fragment, [&]() { __VA_ARGS__; })
