#!/usr/bin/env python3
"""Writes tests/text/data/corpus.txt: a seeded corpus (>= 20,000 lines) for the WordPiece
tokenizer tests, over Debian word lists and the Unicode character database.

Usage: python3 scripts/make_tokenizer_corpus.py [--out tests/text/data/corpus.txt] [--lines 20000]

The Debian packages below are fetched with `apt-get download` into a temporary folder,
checked against the pinned SHA-256 and unpacked with `dpkg-deb -x` (nothing is installed).
Lines cover English, German, French and Spanish words, accented Latin, Greek, Cyrillic, CJK,
Hangul, Thai, Arabic, emoji (ZWJ sequences, skin tones), fullwidth forms, combining marks,
control, format and private-use characters, U+2028/U+2029, NUL, U+FFFD, words over 100
characters, texts over 256 pieces, punctuation runs, numbers and the special token strings.
Every line is valid UTF-8; in the file, "\\" "\n" "\r" "\0" stand for backslash, LF, CR and
NUL (the only escapes, so the file stays text to git). The same seed and packages give the
same file.
"""
import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile

PACKAGES = {
    # name: (version, sha256 of the .deb, file inside)
    "wamerican": ("2020.12.07-2", "c8f8e2b2ad0d37bfdd41f0e40f1e4c8e5f907467d768a1d3698b164e9617f0b4",
                  "usr/share/dict/american-english"),
    "wngerman": ("20161207-11", "9053a69641bcf59233055f1b3ca341046751534b2b32d1e32c67b23ab9b98fec",
                 "usr/share/dict/ngerman"),
    "wfrench": ("1.2.7-2", "a5cbe63b988adbdb973983aab5b76fe2b715e9a37b012f31ad1e925b1a4b4c29",
                "usr/share/dict/french"),
    "wspanish": ("1.0.30", "a2b7504fb8c12deaf6c4e868f749a3d05a42caee348f0f5bb006238e925cde18",
                 "usr/share/dict/spanish"),
    "unicode-data": ("15.0.0-1", "5efef23bbb1c6a133ecbdd63a2cfa07159ccacf5466a49e2426101c5ecd691fc",
                     "usr/share/unicode/UnicodeData.txt"),
}
SEED = 20261204


def fetch(tmp):
    files = {}
    for name, (version, sha, inner) in PACKAGES.items():
        subprocess.run(["apt-get", "download", "%s=%s" % (name, version)], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deb = [f for f in os.listdir(tmp) if f.startswith(name + "_") and f.endswith(".deb")][0]
        with open(os.path.join(tmp, deb), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != sha:
            raise SystemExit("%s: sha256 %s, expected %s" % (deb, got, sha))
        root = os.path.join(tmp, name)
        subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, deb), root], check=True)
        files[name] = os.path.join(root, inner)
    return files


def words(path):
    with open(path, encoding="utf-8", errors="strict") as f:
        return sorted({w.strip() for w in f if w.strip() and "'" not in w})


def unicode_db(path):
    """code point -> general category, with the First/Last ranges expanded."""
    cats = {}
    first = None
    with open(path, encoding="ascii") as f:
        for line in f:
            fields = line.split(";")
            cp, name, cat = int(fields[0], 16), fields[1], fields[2]
            if name.endswith(", First>"):
                first = cp
            elif name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    cats[c] = cat
            else:
                cats[cp] = cat
    return {c: k for c, k in cats.items() if not 0xD800 <= c <= 0xDFFF}


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")


def build(files, n_lines):
    rng = random.Random(SEED)
    en, de = words(files["wamerican"]), words(files["wngerman"])
    fr, es = words(files["wfrench"]), words(files["wspanish"])
    cats = unicode_db(files["unicode-data"])
    by_cat = {}
    for c, k in sorted(cats.items()):
        by_cat.setdefault(k, []).append(c)
    assigned = sorted(cats)

    def ranged(lo, hi):
        return [c for c in range(lo, hi + 1) if c in cats]

    scripts = {
        "greek": ranged(0x370, 0x3FF) + ranged(0x1F00, 0x1FFF),
        "cyrillic": ranged(0x400, 0x52F),
        "cjk": ranged(0x4E00, 0x9FFF) + ranged(0x3400, 0x4DBF) + ranged(0x20000, 0x2A6DF) + ranged(0xF900, 0xFAFF),
        "hangul": ranged(0xAC00, 0xD7A3) + ranged(0x1100, 0x11FF) + ranged(0x3130, 0x318F),
        "thai": ranged(0xE00, 0xE7F),
        "arabic": ranged(0x600, 0x6FF) + ranged(0xFB50, 0xFDFF) + ranged(0xFE70, 0xFEFF),
        "kana": ranged(0x3040, 0x30FF),
        "latin_ext": ranged(0xC0, 0x24F) + ranged(0x1E00, 0x1EFF),
        "fullwidth": ranged(0xFF01, 0xFFEE),
        "devanagari": ranged(0x900, 0x97F),
        "hebrew": ranged(0x590, 0x5FF),
        "symbols": ranged(0x2000, 0x2BFF) + ranged(0x20A0, 0x20CF),
    }
    emoji = ranged(0x1F300, 0x1F5FF) + ranged(0x1F600, 0x1F64F) + ranged(0x1F680, 0x1F6FF) + ranged(0x1F900, 0x1F9FF)
    skin = [0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF]
    marks = by_cat["Mn"] + by_cat["Mc"] + by_cat["Me"]
    controls = by_cat["Cc"]
    formats = by_cat["Cf"]
    private = list(range(0xE000, 0xF900)) + [0xF0000, 0xF0001, 0xFFFFD, 0x100000, 0x10FFFD]
    spaces = [0x20, 0x09, 0x0A, 0x0D, 0xA0, 0x85, 0x1680, 0x2000, 0x2007, 0x200A, 0x200B,
              0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF, 0x0B, 0x0C, 0x1C, 0x1F]
    specials = ["[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[cls]", "[Sep]", "[CLS", "SEP]", "[[SEP]]"]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["¡", "¿", "«", "»", "—", "–", "…", "·", "、",
                                                           "。", "「", "」", "‘", "’", "“", "”", "€", "©", "®", "°", "±"]

    def word(lists=None):
        lst = rng.choice(lists or [en, en, de, fr, es])
        w = rng.choice(lst)
        r = rng.random()
        if r < 0.1:
            w = w.upper()
        elif r < 0.3:
            w = w.capitalize()
        return w

    def chars(pool, k):
        return "".join(chr(rng.choice(pool)) for _ in range(k))

    def number():
        r = rng.random()
        if r < 0.3:
            return str(rng.randint(0, 10 ** rng.randint(1, 12)))
        if r < 0.6:
            return "%.*f" % (rng.randint(1, 4), rng.uniform(-1e4, 1e4))
        if r < 0.8:
            return "{:,}".format(rng.randint(1000, 10 ** 9))
        return "%d/%d/%d" % (rng.randint(1, 31), rng.randint(1, 12), rng.randint(1900, 2100))

    def sentence(n):
        out = []
        for _ in range(n):
            r = rng.random()
            if r < 0.75:
                out.append(word())
            elif r < 0.85:
                out.append(number())
            elif r < 0.95:
                out.append(rng.choice(punct))
            else:
                out.append(rng.choice(specials))
        s = " ".join(out)
        if rng.random() < 0.7:
            s += rng.choice(".!?;:")
        return s

    def script_text():
        name = rng.choice(sorted(scripts))
        pool = scripts[name]
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append(chars(pool, rng.randint(1, 8)))
        return rng.choice([" ", "", ", ", " - "]).join(parts)

    def emoji_text():
        parts = []
        for _ in range(rng.randint(1, 5)):
            r = rng.random()
            e = chr(rng.choice(emoji))
            if r < 0.3:
                e += chr(rng.choice(skin))
            elif r < 0.6:
                e = "\u200d".join(chr(rng.choice(emoji)) + (chr(rng.choice(skin)) if rng.random() < 0.3 else "")
                                  for _ in range(rng.randint(2, 4)))
            elif r < 0.7:
                e += "\ufe0f"
            parts.append(e)
        return rng.choice([" ", "", " " + word() + " "]).join(parts)

    def marked_text():
        out = []
        for _ in range(rng.randint(1, 6)):
            w = word()
            w = "".join(c + (chars(marks, rng.randint(1, 3)) if rng.random() < 0.3 else "") for c in w)
            out.append(w)
        return " ".join(out)

    def hostile_text():
        pool = [0, 0xFFFD] + controls + formats + private[:50] + spaces
        out = []
        for _ in range(rng.randint(2, 10)):
            r = rng.random()
            if r < 0.5:
                out.append(chr(rng.choice(pool)))
            elif r < 0.8:
                out.append(word())
            else:
                out.append(chr(rng.choice(private)))
        return "".join(out) if rng.random() < 0.5 else " ".join(out)

    def long_word():
        r = rng.random()
        if r < 0.3:
            n = rng.choice([99, 100, 101, 102])
            pool = [ord(c) for c in "abcdefghij"] if rng.random() < 0.5 else scripts["latin_ext"] + scripts["greek"]
            w = chars(pool, n)
        elif r < 0.6:
            w = "".join(word([en]) for _ in range(rng.randint(12, 30))).lower()
        else:
            w = chars(scripts["cyrillic"] + scripts["thai"], rng.randint(90, 140))
        return word() + " " + w + " " + word()

    def long_text():
        return " ".join(sentence(rng.randint(5, 12)) for _ in range(rng.randint(18, 30)))

    def punct_run():
        return word() + "".join(rng.choice(punct) for _ in range(rng.randint(2, 20))) + word()

    def random_cps():
        return chars(assigned, rng.randint(1, 12))

    def mixed():
        gens = [lambda: sentence(rng.randint(1, 6)), script_text, emoji_text, marked_text,
                hostile_text, punct_run, random_cps, number]
        return rng.choice([" ", "", "\n", "\t", "\u2028"]).join(rng.choice(gens)() for _ in range(rng.randint(2, 3)))

    kinds = [
        (30, lambda: sentence(rng.randint(1, 12))),
        (12, script_text),
        (6, emoji_text),
        (8, marked_text),
        (6, hostile_text),
        (2.5, long_word),
        (0.4, long_text),
        (5, punct_run),
        (8, random_cps),
        (4, number),
        (16, mixed),
    ]
    total = sum(w for w, _ in kinds)
    lines = ["", " ", "\t\n", "[CLS]", "[SEP][SEP]", "a[UNK]b", "\u0000", "\ufffd", "\u2028\u2029",
             "İstanbul ΣΑΣ ς Straße ǅ ﬁ", "e\u0301 a\u0308\u0308", "中文字符 한국어 ไทย العربية"]
    while len(lines) < n_lines:
        r = rng.uniform(0, total)
        for w, g in kinds:
            r -= w
            if r <= 0:
                lines.append(g())
                break
    for s in lines:
        s.encode("utf-8")  # raises on a surrogate: only valid UTF-8 goes in
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/text/data/corpus.txt")
    ap.add_argument("--lines", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = build(fetch(tmp), args.lines)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for s in lines:
            f.write(escape(s) + "\n")
    print("wrote %s: %d lines, %d bytes" % (args.out, len(lines), os.path.getsize(args.out)))


if __name__ == "__main__":
    sys.exit(main())
