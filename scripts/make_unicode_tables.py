#!/usr/bin/env python3
"""Generates embedkit's Unicode tables for the WordPiece tokenizer from the reference
tokenizer's own behaviour (tokenizers 0.19.1: BertNormalizer + BertPreTokenizer), not from
the Unicode data files, so the tables agree with the reference wherever its Unicode version
or its rules differ from the standard.

Usage (with the pinned venv, PY="$(scripts/python-env)"):
  $PY scripts/make_unicode_tables.py [--model models/all-MiniLM-L6-v2]

Every code point U+0000..U+10FFFF except the surrogates (which UTF-8 cannot carry) is run
through the reference's normalizer steps one at a time, alone, and through the
pre-tokenizer inside "a<c>b", which gives:
  clean_text:     dropped, turned into a space, or kept
  chinese chars:  padded with spaces or not
  strip_accents:  the reference's NFD of the code point (a map; Hangul syllables: the
                  algorithmic decomposition, checked here for every syllable), whether the
                  mark filter after it drops the code point (a flag), and the canonical
                  combining class of every code point NFD leaves alone, probed through the
                  reference's canonical reordering (so marks reorder as the reference's do)
  lowercase:      the output (a map; most are one code point, a few expand)
  pre-tokenizer:  split as whitespace, split off as punctuation, or part of a word
The script checks that the full normalizer equals these steps applied in order, per code
point (so the C++ side may compose them; across code points NFD also reorders marks by
class), and writes:
  include/embedkit/text/detail/unicode_tables.hpp   the tables (flag runs + sorted maps)
  tests/text/data/codepoints.txt                    per block of code points, the FNV-1a 64
      hash of the reference encoding (ids and byte offsets) of "a<c>b" for every c, under
      each configuration of tokenizer_reference.CONFIGS
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_reference as ref  # noqa: E402

MAX_CP = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)

CLEAN_DROP = 1
CLEAN_SPACE = 2
CJK = 4
SPLIT_SPACE = 8
SPLIT_PUNCT = 16
STRIP_DROP = 32

HANGUL_S, HANGUL_L, HANGUL_V, HANGUL_T = 0xAC00, 0x1100, 0x1161, 0x11A7
HANGUL_V_COUNT, HANGUL_T_COUNT, HANGUL_COUNT = 21, 28, 11172


def code_points():
    return [c for c in range(MAX_CP + 1) if c not in SURROGATES]


def hangul(c):
    s = c - HANGUL_S
    out = [HANGUL_L + s // (HANGUL_V_COUNT * HANGUL_T_COUNT),
           HANGUL_V + (s % (HANGUL_V_COUNT * HANGUL_T_COUNT)) // HANGUL_T_COUNT]
    if s % HANGUL_T_COUNT:
        out.append(HANGUL_T + s % HANGUL_T_COUNT)
    return "".join(map(chr, out))


def classify(cps):
    from tokenizers import normalizers, pre_tokenizers

    def norm(clean=False, chinese=False, strip=False, lower=False):
        return normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese,
                                          strip_accents=strip, lowercase=lower).normalize_str

    clean, chinese, strip, lower = norm(clean=True), norm(chinese=True), norm(strip=True), norm(lower=True)
    full = norm(clean=True, chinese=True, strip=True, lower=True)
    pretok = pre_tokenizers.BertPreTokenizer().pre_tokenize_str
    nfd = normalizers.NFD().normalize_str
    flags, lower_map, nfd_map = {}, {}, {}
    for c in cps:
        ch = chr(c)
        f = 0
        out = clean(ch)
        if out == "":
            f |= CLEAN_DROP
        elif out == " ":
            f |= CLEAN_SPACE
        elif out != ch:
            raise SystemExit("U+%04X: clean_text gives %r" % (c, out))
        out = chinese(ch)
        if out == " " + ch + " ":
            f |= CJK
        elif out != ch:
            raise SystemExit("U+%04X: chinese chars gives %r" % (c, out))
        if strip(ch) == "":
            f |= STRIP_DROP
        d = nfd(ch)
        if d != ch:
            if HANGUL_S <= c < HANGUL_S + HANGUL_COUNT:
                if d != hangul(c):
                    raise SystemExit("U+%04X: NFD gives %r, not the Hangul algorithm" % (c, d))
            else:
                nfd_map[c] = d
        lo = lower(ch)
        if lo != ch:
            lower_map[c] = lo
        words = [w for w, _ in pretok("a" + ch + "b")]
        if words == ["a", "b"]:
            f |= SPLIT_SPACE
        elif words == ["a", ch, "b"]:
            f |= SPLIT_PUNCT
        elif words != ["a" + ch + "b"]:
            raise SystemExit("U+%04X: pre-tokenizer gives %r" % (c, words))
        flags[c] = f
    # The C++ side composes the steps per code point: check that this is what the full
    # normalizer does.
    for c in cps:
        ch = chr(c)
        f = flags[c]
        if f & CLEAN_DROP:
            want = ""
        else:
            x = " " if f & CLEAN_SPACE else ch
            x = " " + x + " " if f & CJK and not (f & CLEAN_SPACE) else x
            x = "".join(nfd(y) for y in x)
            x = "".join(y for y in x if not flags[ord(y)] & STRIP_DROP)
            want = "".join(lower(y) for y in x)
        got = full(ch)
        if got != want:
            raise SystemExit("U+%04X: the normalizer gives %r, the composed steps %r" % (c, got, want))
        if strip(ch) != "".join(y for y in nfd(ch) if not flags[ord(y)] & STRIP_DROP):
            raise SystemExit("U+%04X: strip_accents is not NFD + the mark filter" % c)
    return flags, lower_map, nfd_map, combining_classes(cps, nfd, nfd_map)


def combining_classes(cps, nfd, nfd_map):
    """Canonical combining class of every code point that NFD leaves alone, as the reference
    reorders marks (its Unicode version may be older than Python's). A code point x is a
    non-starter iff NFD moves it across a mark of class 240 or 1; its class is that of the
    probe mark p (one per class value, chosen from Python's unicodedata and accepted only if
    the reference orders it so against U+0334 (1), U+0301 (230) and U+0345 (240)) for which
    NFD keeps both "x p" and "p x" in place."""
    import unicodedata

    def swaps(x, y):  # NFD("a" x y) puts y first
        return nfd("a" + x + y) == "a" + y + x

    anchors = {"\u0334": 1, "\u0301": 230, "\u0345": 240}

    def fits(ch, k):
        for a, ak in anchors.items():
            if ch != a and (swaps(ch, a) != (ak < k) or swaps(a, ch) != (k < ak)):
                return False
        return True

    probes = {}
    for c in cps:
        k = unicodedata.combining(chr(c))
        if k and k not in probes and c not in nfd_map and nfd(chr(c)) == chr(c) and fits(chr(c), k):
            probes[k] = chr(c)
    order = sorted(probes)
    lo, hi = probes[order[0]], probes[order[-1]]
    ccc, notes = {}, []
    for c in cps:
        if c in nfd_map or (HANGUL_S <= c < HANGUL_S + HANGUL_COUNT):
            continue
        ch = chr(c)
        k = unicodedata.combining(ch)
        if ch not in (lo, hi) and not swaps(hi, ch) and not swaps(ch, lo):
            if k:
                notes.append("U+%04X: Python's class %d, a starter to the reference" % (c, k))
            continue
        found = [pk for pk in order if probes[pk] == ch or (not swaps(ch, probes[pk]) and not swaps(probes[pk], ch))]
        if len(found) != 1:
            raise SystemExit("U+%04X: no single probe class matches the reference's order (%r)" % (c, found))
        for pk in order:  # the whole order must agree with that class
            p = probes[pk]
            if p != ch and (swaps(ch, p) != (pk < found[0]) or swaps(p, ch) != (found[0] < pk)):
                raise SystemExit("U+%04X: the reference orders it inconsistently" % c)
        if found[0] != k:
            notes.append("U+%04X: Python's class %d, the reference's %d" % (c, k, found[0]))
        ccc[c] = found[0]
    print("combining classes: %d non-starters, %d probes; %d differ from Python's unicodedata %s"
          % (len(ccc), len(probes), len(notes), unicodedata.unidata_version))
    for n in notes[:20]:
        print("  " + n)
    return ccc


def runs(flags, cps):
    """(first code point, flags) at every change; surrogates take the flags before them."""
    out = []
    prev = None
    for c in range(MAX_CP + 1):
        f = flags.get(c, prev)
        if f != prev:
            out.append((c, f))
            prev = f
    return out


def emit_map(name, mapping, lines):
    keys = sorted(mapping)
    pool = []
    vals = []
    for k in keys:
        v = [ord(x) for x in mapping[k]]
        if len(v) == 1:
            vals.append((1 << 24) | v[0])
        else:
            assert 2 <= len(v) < 256 and len(pool) < (1 << 24)
            vals.append((len(v) << 24) | len(pool))
            pool += v
    lines.append("/// %s: sorted code points with a non-identity output (%d)." % (name, len(keys)))
    lines.append("inline constexpr std::uint32_t %s_keys[] = {" % name)
    lines += wrap(["0x%X" % k for k in keys])
    lines.append("};")
    lines.append("/// (length << 24) | code point when the length is 1, else (length << 24) | offset")
    lines.append("/// into %s_pool." % name)
    lines.append("inline constexpr std::uint32_t %s_values[] = {" % name)
    lines += wrap(["0x%X" % v for v in vals])
    lines.append("};")
    lines.append("inline constexpr std::uint32_t %s_pool[] = {" % name)
    lines += wrap(["0x%X" % v for v in pool] or ["0"])
    lines.append("};")
    lines.append("")


def wrap(items, width=96):
    out, cur = [], "    "
    for it in items:
        piece = it + ","
        if len(cur) + len(piece) + 1 > width and cur.strip():
            out.append(cur.rstrip())
            cur = "    "
        cur += piece + " "
    if cur.strip():
        out.append(cur.rstrip())
    return out


def write_header(path, flag_runs, ccc_runs, lower_map, nfd_map, versions):
    lines = [
        "// Unicode tables of the WordPiece tokenizer, generated from the reference tokenizer's",
        "// behaviour (%s). Do not edit: regenerate with" % versions,
        "//   PY=\"$(scripts/python-env)\"; $PY scripts/make_unicode_tables.py",
        "// (clang-format off: the tables are laid out by the generator.)",
        "#pragma once",
        "",
        "#include <cstdint>",
        "",
        "// clang-format off",
        "namespace embedkit::text::detail {",
        "",
        "/// Per code point flags (see text/wordpiece.hpp for their use).",
        "enum : std::uint32_t {",
        "    cp_clean_drop = %d,    ///< clean_text removes it (NUL, U+FFFD, controls, format, ...)" % CLEAN_DROP,
        "    cp_clean_space = %d,   ///< clean_text turns it into a space" % CLEAN_SPACE,
        "    cp_cjk = %d,           ///< tokenize_chinese_chars puts spaces around it" % CJK,
        "    cp_split_space = %d,   ///< the pre-tokenizer splits on it and drops it" % SPLIT_SPACE,
        "    cp_split_punct = %d,  ///< the pre-tokenizer makes it a word of its own" % SPLIT_PUNCT,
        "    cp_strip_drop = %d,   ///< strip_accents removes it after NFD (a mark)" % STRIP_DROP,
        "};",
        "",
        "/// Runs of equal flags: (first code point << 8) | flags, sorted; a run lasts until the",
        "/// next one starts (%d runs)." % len(flag_runs),
        "inline constexpr std::uint32_t flag_runs[] = {",
    ]
    lines += wrap(["0x%X" % ((c << 8) | f) for c, f in flag_runs])
    lines.append("};")
    lines.append("")
    lines.append("/// Canonical combining classes of the code points NFD leaves alone, as runs")
    lines.append("/// (first code point << 8) | class (%d runs); decomposable code points read 0." % len(ccc_runs))
    lines.append("inline constexpr std::uint32_t ccc_runs[] = {")
    lines += wrap(["0x%X" % ((c << 8) | k) for c, k in ccc_runs])
    lines.append("};")
    lines.append("")
    emit_map("lower", lower_map, lines)
    emit_map("nfd", nfd_map, lines)
    lines.append("/// NFD decomposes Hangul syllables U+%04X..U+%04X algorithmically" % (
        HANGUL_S, HANGUL_S + HANGUL_COUNT - 1))
    lines.append("/// (Unicode 3.12); the generator checked every syllable against the reference.")
    lines.append("inline constexpr std::uint32_t hangul_first = 0x%X, hangul_count = %d;" % (HANGUL_S, HANGUL_COUNT))
    lines.append("")
    lines.append("}  // namespace embedkit::text::detail")
    lines.append("// clang-format on")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def write_codepoint_hashes(path, model, versions):
    blocks = {"default": 256}
    lines = [
        "# Reference encodings of \"a<c>b\" for every code point c (%s)." % versions,
        "# Generated by: scripts/make_unicode_tables.py. Per configuration:",
        "#   config <name> <block size> <lowercase> <strip_accents> <chinese> <clean_text>",
        "# then one FNV-1a 64 hash (hex) per block of code points, over LE uint32s: for each c",
        "# of the block (surrogates skipped) c, the token count, then id, start, end per token",
        "# (byte offsets, [CLS]/[SEP] included, no truncation).",
    ]
    tri = {True: "1", False: "0", None: "-"}
    cps = code_points()
    texts = ["a" + chr(c) + "b" for c in cps]
    for name, (lower, strip, chinese, clean) in ref.CONFIGS.items():
        block = blocks.get(name, 4096)
        tok = ref.reference_tokenizer(model, name)
        encs = ref.encode_bytes(tok, texts)
        hashes = [ref.FNV_OFFSET] * ((MAX_CP + 1) // block)
        for c, (ids, offs) in zip(cps, encs):
            b = c // block
            hashes[b] = ref.encoding_hash(ids, offs, ref.fnv1a64(struct.pack("<I", c), hashes[b]))
        lines.append("config %s %d %s %s %s %s" % (name, block, tri[lower], tri[strip], tri[chinese], tri[clean]))
        lines += ["%016x" % h for h in hashes]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--header", default="include/embedkit/text/detail/unicode_tables.hpp")
    ap.add_argument("--test-data", default="tests/text/data/codepoints.txt")
    args = ap.parse_args()
    import tokenizers
    import transformers

    versions = "tokenizers %s, transformers %s" % (tokenizers.__version__, transformers.__version__)
    cps = code_points()
    flags, lower_map, nfd_map, ccc = classify(cps)
    flag_runs = runs(flags, cps)
    ccc_runs = runs({c: ccc.get(c, 0) for c in cps}, cps)
    write_header(args.header, flag_runs, ccc_runs, lower_map, nfd_map, versions)
    print("%s: %d flag runs, %d class runs, %d lowercase, %d NFD entries, %d bytes" % (
        args.header, len(flag_runs), len(ccc_runs), len(lower_map), len(nfd_map), os.path.getsize(args.header)))
    write_codepoint_hashes(args.test_data, args.model, versions)
    print("%s: %d bytes" % (args.test_data, os.path.getsize(args.test_data)))


if __name__ == "__main__":
    sys.exit(main())
