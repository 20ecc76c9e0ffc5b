"""English text from Debian's wordnet-base package, fetched without installing it.

Shared by scripts/make_text_sentences.py and scripts/make_text_workloads.py (tooling only; the
library, its tests and its examples never run Python). The package is downloaded at a pinned
version with `apt-get download`, its sha256 is checked, and it is unpacked with `dpkg-deb -x`
into a temporary folder: nothing is installed.

WordNet 3.0 license (Princeton University; permissive, the notice must travel with copies):
see tests/text/data/README.md, which carries it.

Each synset line of data.{noun,verb,adj,adv} ends with ` | gloss`, where the gloss is a
definition followed by quoted usage examples separated by "; ", e.g.
    | a separate and self-contained entity; "the thing was never found"
"""

import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "wordnet-base"
VERSION = "1:3.0-37"
DEB_SHA256 = "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752"
POS_FILES = ("noun", "verb", "adj", "adv")


@dataclass
class Synset:
    pos: str
    lemmas: list
    definition: str
    examples: list = field(default_factory=list)


def _download(workdir: Path) -> Path:
    # As root, apt would hand the download to its _apt user, who cannot write into a private
    # temporary folder (it then warns and downloads as root anyway): ask for root directly.
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    subprocess.run(["apt-get", *sandbox, "download", f"{PACKAGE}={VERSION}"], cwd=workdir,
                   check=True, stdout=subprocess.DEVNULL)
    debs = list(workdir.glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise SystemExit(f"wordnet_text: apt-get download left {debs} in {workdir}")
    digest = hashlib.sha256(debs[0].read_bytes()).hexdigest()
    if digest != DEB_SHA256:
        raise SystemExit(f"wordnet_text: {debs[0].name} has sha256 {digest}, expected {DEB_SHA256}")
    out = workdir / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(out)], check=True)
    return out / "usr" / "share" / "wordnet"


_QUOTED = re.compile(r'"([^"]*)"')


def _parse_gloss(gloss: str):
    first_quote = gloss.find('"')
    definition = gloss if first_quote < 0 else gloss[:first_quote]
    definition = definition.strip().rstrip(";").strip()
    examples = [m.strip() for m in _QUOTED.findall(gloss) if m.strip()]
    return definition, examples


def load_synsets():
    """All synsets of WordNet 3.0, in file order (noun, verb, adj, adv; by offset)."""
    synsets = []
    with tempfile.TemporaryDirectory(prefix="embedkit-wordnet-") as tmp:
        folder = _download(Path(tmp))
        for pos in POS_FILES:
            with open(folder / f"data.{pos}", encoding="ascii") as f:
                for line in f:
                    if line.startswith("  "):  # license header
                        continue
                    head, sep, gloss = line.partition(" | ")
                    if not sep:
                        continue
                    fields = head.split()
                    n_words = int(fields[3], 16)
                    lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
                    # adjective lemmas may carry a syntactic marker such as "(a)" or "(p)"
                    lemmas = [re.sub(r"\((a|p|ip)\)$", "", w) for w in lemmas]
                    definition, examples = _parse_gloss(gloss.strip())
                    synsets.append(Synset(pos, lemmas, definition, examples))
    return synsets


def sentence_case(text: str) -> str:
    """Capitalises the first letter and ends with a full stop unless it already ends a sentence."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text
