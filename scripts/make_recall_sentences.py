#!/usr/bin/env python3
"""Writes the named sentence set of the compact-storage recall benchmark (docs/BENCHMARKS.md):
301,000 distinct English lines from two Debian bookworm data packages, fetched with
`apt-get download` at pinned versions (sha256-checked) and unpacked with `dpkg-deb -x`
(nothing is installed):

  * WordNet 3.0 (wordnet-base 1:3.0-37): every synset's definition and usage examples;
  * GCIDE (dict-gcide 0.48.5+nmu2, GPL-2+): the definition paragraphs of the dictionary's
    entries (headword lines, synonym lists and source markers dropped).

Lines are whitespace-normalised, kept at 4 to 40 words (a longer paragraph keeps its first 40),
deduplicated, shuffled with a fixed seed and cut to 301,000; the last 1,000 lines are the
queries. The output's sha256 is checked against the one recorded below, so the set is the
same on every machine.

  python3 scripts/make_recall_sentences.py build/compact_bench/recall_sentences.txt
  build/release/examples/embed_text --threads 2 --input build/compact_bench/recall_sentences.txt \\
      --out build/compact_bench/recall_minilm.npy

Tooling only: the library, its tests and its examples never run Python.
"""
import gzip
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wordnet_text  # noqa: E402

GCIDE = "dict-gcide"
GCIDE_VERSION = "0.48.5+nmu2"
GCIDE_SHA256 = "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f"
COUNT = 301_000
SEED = 20261204
OUTPUT_SHA256 = "36893ec6aadd716a18cd26ea720230bc3c9c99e57552b135544af89710ee70b8"

_SPACE = re.compile(r"\s+")
_NUMBERED = re.compile(r"^(\d+\.|\([a-z]\))\s*")
_MARKER = re.compile(r"\[[^\]]*\]")


def _gcide_paragraphs():
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory(prefix="embedkit-gcide-") as tmp:
        subprocess.run(["apt-get", *sandbox, "download", f"{GCIDE}={GCIDE_VERSION}"], cwd=tmp,
                       check=True, stdout=subprocess.DEVNULL)
        debs = list(Path(tmp).glob(f"{GCIDE}_*.deb"))
        digest = hashlib.sha256(debs[0].read_bytes()).hexdigest()
        if digest != GCIDE_SHA256:
            raise SystemExit(f"make_recall_sentences: {debs[0].name} has sha256 {digest}, "
                             f"expected {GCIDE_SHA256}")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/root"], check=True)
        with gzip.open(f"{tmp}/root/usr/share/dictd/gcide.dict.dz", "rt", encoding="utf-8",
                       errors="replace") as f:
            text = f.read()
    for para in text.split("\n\n"):
        lines = [l.strip() for l in para.strip().splitlines()]
        # Entry heads carry the pronunciation between backslashes; synonym lists and notes
        # are not sentences.
        lines = [l for l in lines if l and "\\" not in l and not l.startswith(("Syn:", "Note:", "["))]
        if not lines:
            continue
        yield " ".join(lines)


_BRACES = re.compile(r"[{}*]|(?<=[a-z])\"(?=[a-z])")  # GCIDE's italics, syllable and stress marks
_SOURCE = re.compile(r"\s--\s*[A-Z][^.;]*\.?\s*$")  # a trailing attribution such as "--Shak."


def _clean(text):
    text = _MARKER.sub(" ", text)
    text = _SOURCE.sub("", _BRACES.sub("", text))
    text = _NUMBERED.sub("", _SPACE.sub(" ", text).strip())
    text = text.replace(" -- ", "; ").strip(" ;")
    words = text.split(" ")
    if len(words) < 4 or sum(c.isalpha() for c in text) < 0.7 * len(text):
        return None
    return " ".join(words[:40])


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_recall_sentences.py OUTPUT.txt")
    seen, lines = set(), []
    sources = []
    for s in wordnet_text.load_synsets():
        sources.append(s.definition)
        sources.extend(s.examples)
    sources.extend(_gcide_paragraphs())
    for raw in sources:
        line = _clean(raw)
        if line and line not in seen:
            seen.add(line)
            lines.append(line)
    if len(lines) < COUNT:
        raise SystemExit(f"make_recall_sentences: only {len(lines)} distinct lines")
    random.Random(SEED).shuffle(lines)
    body = "\n".join(lines[:COUNT]) + "\n"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    print(f"make_recall_sentences: {COUNT} of {len(lines)} distinct lines, sha256 {digest} -> {out}")
    if OUTPUT_SHA256 is not None and digest != OUTPUT_SHA256:
        raise SystemExit(f"make_recall_sentences: output sha256 {digest}, expected {OUTPUT_SHA256}")


if __name__ == "__main__":
    main()
