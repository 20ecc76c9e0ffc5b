// docs/ERRORS.md and the EMBEDKIT_ERROR_ROW checks in tests/errors/*.cpp must list the same rows
// with the same exception type and message fragment.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Row {
    std::string type;
    std::string fragment;
    std::string where;
};

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string strip_code(std::string cell) {
    const auto b = cell.find_first_not_of(" \t");
    const auto e = cell.find_last_not_of(" \t");
    cell = b == std::string::npos ? std::string() : cell.substr(b, e - b + 1);
    if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`')
        cell = cell.substr(1, cell.size() - 2);
    return cell;
}

std::string short_type(std::string t) {
    const std::string ns = "embedkit::";
    if (t.compare(0, ns.size(), ns) == 0) t = t.substr(ns.size());
    return t;
}

// Table rows: | ID | entry point | bad input | `Exception` | `fragment` |
std::map<std::string, Row> doc_rows(const std::string& text) {
    std::map<std::string, Row> rows;
    std::istringstream in(text);
    std::string line;
    const std::regex id_re("^[A-Z]+-[0-9]+$");
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] != '|') continue;
        std::vector<std::string> cells;
        std::string cell;
        for (std::size_t i = 1; i < line.size(); ++i) {
            if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
                cell += '|';
                ++i;
            } else if (line[i] == '|') {
                cells.push_back(cell);
                cell.clear();
            } else {
                cell += line[i];
            }
        }
        if (cells.empty() || !std::regex_match(strip_code(cells[0]), id_re)) continue;
        INFO("docs/ERRORS.md line ", number);
        REQUIRE_MESSAGE(cells.size() == 5, "a row needs 5 cells: ", line);
        const std::string id = strip_code(cells[0]);
        CHECK_MESSAGE(rows.count(id) == 0, "duplicate row ", id);
        rows[id] = Row{short_type(strip_code(cells[3])), strip_code(cells[4]),
                       "docs/ERRORS.md:" + std::to_string(number)};
    }
    return rows;
}

std::string unescape_cpp(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            ++i;
            out += s[i] == 'n' ? '\n' : s[i];
        } else {
            out += s[i];
        }
    }
    return out;
}

std::map<std::string, Row> test_rows(const std::filesystem::path& dir) {
    std::map<std::string, Row> rows;
    // The message may be several adjacent string literals (as clang-format breaks long ones);
    // they are joined as the compiler joins them.
    const std::regex row_re(
        R"re(EMBEDKIT_ERROR_ROW\(\s*"([A-Z]+-[0-9]+)"\s*,\s*([A-Za-z_:]+)\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+))re");
    const std::regex literal_re(R"re("((?:[^"\\]|\\.)*)")re");
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".cpp" || name == "test_errors_doc.cpp") continue;
        const std::string text = slurp(entry.path());
        for (std::sregex_iterator it(text.begin(), text.end(), row_re), end; it != end; ++it) {
            const std::string id = (*it)[1];
            CHECK_MESSAGE(rows.count(id) == 0, "row ", id, " is checked twice (", rows[id].where,
                          " and ", name, ")");
            const std::string literals = (*it)[3];
            std::string message;
            for (std::sregex_iterator l(literals.begin(), literals.end(), literal_re), lend;
                 l != lend; ++l)
                message += unescape_cpp((*l)[1]);
            rows[id] = Row{short_type((*it)[2]), message, name};
        }
    }
    return rows;
}

}  // namespace

TEST_CASE("errors table: every row of docs/ERRORS.md has a test with the same type and message") {
    const std::filesystem::path root = EMBEDKIT_SOURCE_DIR;
    const auto docs = doc_rows(slurp(root / "docs" / "ERRORS.md"));
    const auto tests = test_rows(root / "tests" / "errors");
    CHECK(docs.size() >= 40);
    for (const auto& entry : docs) {
        const std::string& id = entry.first;
        const Row& row = entry.second;
        INFO("row ", id, " (", row.where, ")");
        const auto it = tests.find(id);
        if (it == tests.end()) {
            FAIL_CHECK("no EMBEDKIT_ERROR_ROW(\"", id, "\", ...) in tests/errors");
            continue;
        }
        CHECK_MESSAGE(it->second.type == row.type, "docs say ", row.type, ", the test expects ",
                      it->second.type);
        CHECK_MESSAGE(it->second.fragment == row.fragment, "docs say \"", row.fragment,
                      "\", the test expects \"", it->second.fragment, "\"");
    }
    for (const auto& entry : tests) {
        const std::string& id = entry.first;
        const Row& row = entry.second;
        CHECK_MESSAGE(docs.count(id) == 1, "row ", id, " is tested in ", row.where,
                      " but missing from docs/ERRORS.md");
    }
}
