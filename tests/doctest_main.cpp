// The doctest main shared by every test executable. Unlike doctest's own main it fails a run
// in which no test case passed the filters: ctest runs one case per process by name, and a
// name that no longer matches (a renamed case, a ';' splitting a name in
// doctest_discover_tests) must show up as a failure, not as a silent pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

bool g_ran_no_case = false;

struct RanNothingListener : doctest::IReporter {
    explicit RanNothingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        g_ran_no_case = stats.numTestCasesPassingFilters == 0;
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("ran_nothing", 1, RanNothingListener);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit()) return result;  // --help, --list-test-cases and other queries
    if (result == 0 && g_ran_no_case) {
        std::fprintf(stderr, "error: no test case matched the filters\n");
        return 1;
    }
    return result;
}
