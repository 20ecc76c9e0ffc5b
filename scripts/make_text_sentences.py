#!/usr/bin/env python3
"""Writes tests/text/data/minilm_sentences.txt: the texts of the all-MiniLM-L6-v2 reference.

Deterministic from --seed (default 14). Sources: WordNet 3.0 glosses and usage examples from
Debian's wordnet-base 1:3.0-37 (downloaded with apt-get, sha256 checked, unpacked with dpkg-deb,
never installed; see scripts/wordnet_text.py), plus a few dozen sentences written for this file
(UNICODE_TEXTS, PUNCT_TEXTS below: accents, other scripts, emoji, invisible characters, digits).
Word pieces are counted with the model's own tokenizer.json (models/all-MiniLM-L6-v2, fetched by
scripts/get-model), so the long texts are known to pass the 256-token limit.

Usage:  PY="$(scripts/python-env)"; "$PY" scripts/make_text_sentences.py [--seed 14] [--out PATH]

File format: UTF-8, one text per line, lines separated by "\\n" (LF) only, and the file ends with
"\\n". A text is everything between two LFs, so an empty line is the empty string and a line of
spaces or tabs is a whitespace-only text; nothing is trimmed or escaped. No text contains LF, CR
or any other character that Python's str.splitlines() or a C++ getline-like reader could take as
a line break (VT, FF, FS, GS, RS, NEL, LS, PS), so splitting on LF alone is exact.

Mix (counts printed when run): WordNet usage examples (short/medium sentences), definitions turned
into sentences ("A dog is ..."), joined examples (medium), >= 100 paragraphs of consecutive
glosses longer than 256 word pieces (truncation), texts with digits, upper-case and title-case
copies, one-word texts, the hand-written Unicode and punctuation texts, 3 empty strings and 4
whitespace-only strings.
"""

import argparse
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wordnet_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"

# Written for this file (not taken from anywhere): accents, other scripts, symbols, emoji, and
# characters that BERT's normaliser drops or treats as spaces.
UNICODE_TEXTS = [
    "The café on the corner serves crème brûlée and fresh croissants.",
    "Zoë and Chloë spent the afternoon at the Musée d'Orsay.",
    "São Paulo is the largest city in Brazil.",
    "He ordered a jalapeño burger for the piñata party.",
    "Her naïve résumé mentioned a fiancée who lives in Zürich.",
    "Dvořák finished the New World Symphony in 1893.",
    "One ångström is a tenth of a nanometre: 1 Å = 0.1 nm.",
    "The temperature reached 37 °C — the hottest day of the year.",
    "The ticket costs €12.50, or roughly £10.80.",
    "The Greek letters α, β and γ are common in mathematics.",
    "Einstein's famous equation is E = mc².",
    "She said “good morning” and left the room ‘quietly’.",
    "Tokyo is written 東京 in Japanese.",
    "北京是中国的首都。",
    "The Russian word for peace is мир.",
    "Москва — столица России.",
    "The Arabic word for book is كتاب.",
    "I would love some pizza 🍕 and a coffee ☕ right now!",
    "Emoji such as 😀 and 🚀 are rare in old vocabularies.",
    "Cafe\u0301 au lait is written here with a combining accent.",
    "Full-width letters look like ＡＢＣ and ｄｅｆ.",
    "The road is 100\u00a0km long and has no petrol station.",
    "This sentence hides a zero\u200bwidth space.",
    "We must co\u00adoperate to finish the project on time.",
    "The ﬁnal ﬂight leaves at noon.",
    "İstanbul straddles Europe and Asia.",
    "Die Straße ist sehr lang und schön.",
    "Wait for it… the results arrive soon.",
    "• Buy milk • Buy bread • Call the plumber",
    "नमस्ते means hello in Hindi.",
    "안녕하세요 is a polite Korean greeting.",
    "สวัสดี is how people say hello in Thailand.",
    "Ελλάδα is the Greek name for Greece.",
    "The Norwegian fjord near Ålesund was calm and grey.",
    "Pokémon cards were popular in the late 1990s.",
    "The Señora smiled and said «buenos días».",
    "François Truffaut directed Les Quatre Cents Coups.",
    "Łódź is the third-largest city in Poland.",
    "Reykjavík is the northernmost capital of a sovereign state.",
    "The chef prepared a smörgåsbord for the guests.",
    "Ünïcödé äccents can appear ïn ëvery wörd.",
    "ÀÉÎÕÜ ÇÑ are capital letters with diacritics.",
    "The symbols ©, ® and ™ mark intellectual property.",
    "A right arrow → points forward and ← points back.",
    "Fractions like ½ and ¾ appear in old recipes.",
    "The angle measured 45° exactly.",
    "He wrote the word naïve without the diaeresis: naive.",
    "Tabs\tseparate\tthese\twords.",
    "Mixed 中文 and English words in one sentence.",
    "The emoji family 👨‍👩‍👧 is built with zero-width joiners.",
    "Scientists measured 5 µm particles in the water sample.",
    "The Hebrew word for peace is שלום.",
]

PUNCT_TEXTS = [
    "Call 555-0123 at 10:30 a.m. on 2024-03-15!",
    "Pi is approximately 3.14159265358979...",
    "The prize was $1,000,000 (one million dollars).",
    "Everything is 50% off!!! Hurry!!!",
    "C++ and C# are programming languages; so is F#.",
    "Write to someone@example.com for details.",
    "See http://example.com/path?x=1&y=2#top for more.",
    "What?! No way... really???",
    "The ratio was 3:2, not 2:3.",
    "Version 2.0.1-beta fixed bug #4521.",
    "(((nested))) [[brackets]] {{braces}}",
    "1 + 1 = 2, 2 * 3 = 6, and 10 / 4 = 2.5",
    "Room 101, Floor 7, Building B-12.",
    "\"Quoted text,\" she said, 'and more quotes.'",
    "The year 1066 changed English history forever.",
    "----- end of message -----",
    "x^2 + y^2 = r^2",
    "#hashtag @mention ~tilde `backtick` |pipe|",
    "...",
    "!!!",
    "12345678901234567890",
    "3.14",
    "MP3, MP4 and H264 are media formats.",
    "It's a dog's life, isn't it?",
    "state-of-the-art, well-known, up-to-date",
]

EMPTY_TEXTS = ["", "", ""]
WHITESPACE_TEXTS = [" ", "   ", "\t", " \t  "]

LINE_BREAKS = set("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def definition_sentence(s) -> str:
    lemma, d = s.lemmas[0], s.definition
    if s.pos == "noun":
        return f"{article(lemma)} {lemma} is {d}."
    if s.pos == "verb":
        return f"To {lemma} means to {d}."
    return f"{lemma[0].upper() + lemma[1:]} means {d}."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", type=Path, default=ROOT / "tests/text/data/minilm_sentences.txt")
    args = ap.parse_args()

    from tokenizers import Tokenizer
    tok_file = MODEL / "tokenizer.json"
    if not tok_file.exists():
        sys.exit(f"{tok_file} is missing: run scripts/get-model")
    tok = Tokenizer.from_file(str(tok_file))
    tok.no_truncation()
    tok.no_padding()

    def pieces(text):
        return len(tok.encode(text, add_special_tokens=False).ids)

    rng = random.Random(args.seed)
    synsets = wordnet_text.load_synsets()
    seen = set()
    groups = {}

    def take(name, candidates, n, accept=lambda t: True):
        out = []
        for t in candidates:
            if len(out) == n:
                break
            if t in seen or not accept(t):
                continue
            seen.add(t)
            out.append(t)
        if len(out) < n:
            sys.exit(f"make_text_sentences: only {len(out)} of {n} texts for {name}")
        groups[name] = out

    examples = [wordnet_text.sentence_case(e) for s in synsets for e in s.examples]
    examples = sorted(set(examples))
    rng.shuffle(examples)
    take("wordnet examples", examples, 1250, lambda t: 3 <= len(t.split()) <= 40)

    defs = [s for s in synsets if s.definition and len(s.definition.split()) >= 3
            and s.lemmas[0][:1].islower()]  # common words: "A dog is ...", not "A Blastocladiales is"
    rng.shuffle(defs)
    take("definition sentences", (definition_sentence(s) for s in defs), 350,
         lambda t: not re.search(r"\d", t) and len(t.split()) <= 45)

    digit_pool = sorted({t for s in synsets
                         for t in [wordnet_text.sentence_case(s.definition)] + s.examples
                         if re.search(r"\d", t)})
    rng.shuffle(digit_pool)
    take("with digits", (wordnet_text.sentence_case(t) for t in digit_pool), 60)

    def joined_examples():
        while True:
            k = rng.randint(2, 5)
            yield " ".join(rng.sample(examples, k))
    take("joined examples (medium)", joined_examples(), 150, lambda t: 40 <= pieces(t) <= 200)

    # Long texts: consecutive synsets of one part of speech, in file order from a random start,
    # so each paragraph stays on one topic; target lengths spread over 257..700 word pieces, and
    # a few much longer ones.
    def paragraphs():
        while True:
            target = rng.choice([rng.randint(270, 700)] * 9 + [rng.randint(900, 1600)])
            i = rng.randrange(len(synsets) - 400)
            parts = []
            n = 0
            while n < target and i < len(synsets):
                s = synsets[i]
                part = wordnet_text.sentence_case(f"{s.lemmas[0]}: {s.definition}")
                if s.examples:
                    part += " " + " ".join(wordnet_text.sentence_case(e) for e in s.examples)
                parts.append(part)
                n += pieces(part)
                i += 1
            yield " ".join(parts)
    take("long paragraphs (> 256 word pieces)", paragraphs(), 130, lambda t: pieces(t) > 256)

    upper_pool = [t for t in examples if t not in seen]
    take("upper case", (t.upper() for t in upper_pool[:200]), 20)
    take("title case", (t.title() for t in upper_pool[200:400]), 10)

    words = sorted({w for s in synsets for w in s.lemmas if re.fullmatch(r"[A-Za-z]+", w)})
    rng.shuffle(words)
    take("one word", words, 30)

    take("hand-written Unicode", UNICODE_TEXTS, len(UNICODE_TEXTS))
    take("hand-written punctuation and digits", PUNCT_TEXTS, len(PUNCT_TEXTS))
    groups["empty"] = EMPTY_TEXTS
    groups["whitespace only"] = WHITESPACE_TEXTS

    texts = [t for g in groups.values() for t in g]
    rng.shuffle(texts)
    for t in texts:
        if LINE_BREAKS & set(t):
            sys.exit(f"make_text_sentences: a text has a line-break character: {t!r}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(t + "\n")
    n_long = sum(pieces(t) > 254 for t in texts)  # 254 + [CLS] + [SEP] = 256 tokens
    for name, g in groups.items():
        print(f"  {len(g):5d}  {name}")
    print(f"{len(texts)} texts, {n_long} of them truncated at 256 tokens -> {args.out}")


if __name__ == "__main__":
    main()
