"""Is a refusal wholly in its language? `stray_english(text)` lists the English words a Chinese
message still holds, `stray_chinese(text)` the Chinese runs an English one holds — once what
is not language is set aside:

- what a person types or reads as a token: `commands`, `--options`, `keys` in backticks, file
  names (units.toml), URLs, ids (ULIDs, task ids T…), digests, ISO times and dates;
- quoted data ('…', "…", “…”): what the person sent, echoed back, and examples of it;
- a field in brackets ([metrics.reposts]), as the CLI prints the field of a refusal;
- a plan's section cited as the plan numbers it (seed 002 三.5);
- the technical names Chinese offices write in Latin letters too (JSON, UTF-8, SHA-256, ISO
  8601, KB/MB, http/https).

Used by the static check of every raise site (tests/unit/test_error_twins.py) and by the CLI's
table of real refusals (tests/e2e/test_cli_refusals.py).
"""

from __future__ import annotations

import re

# Latin tokens a Chinese message may show: names of formats and units and the grade numerals
# (the plans write II 级 too), not English words.
LATIN_IN_CHINESE = frozenset(w.casefold() for w in (
    "JSON", "UTF", "ISO", "SHA", "KB", "MB", "GB", "http", "https", "II", "III", "IV",
))
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

_TOKENS = [
    re.compile(r"`[^`]*`"),                                            # commands, options, keys, ids
    re.compile(r"https?://[!-~…]*"),                                   # URLs
    re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"),
    re.compile(r"(?<![0-9A-Za-z])[0-9A-HJKMNP-TV-Z]{26}(?![0-9A-Za-z])"),  # ULIDs
    re.compile(r"(?<![0-9A-Za-z])[TM][0-9A-HJKMNP-TV-Z]{16}(?![0-9A-Za-z])"),  # task and meeting ids
    re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{12,64}(?![0-9A-Za-z])…?"),     # digests
    re.compile(r"--[a-z][a-z-]*"),                                     # options
    re.compile(r"[\w.-]+\.(?:toml|json|jsonl|txt|png|mp4|jpg|md|log)\b"),  # file names
    re.compile(r"\[[^\]\n]*\]"),                                       # [field]
    # a plan's section cited as the plan numbers it: seed 002 三.5, seed 003 四(三)
    re.compile(r"seed \d{3} [一二三四五六七八九十]+(?:\.\d+|\([一二三四五六七八九十]+\))?"),
]
_QUOTED = [
    re.compile(r"“[^”]*”"), re.compile(r"‘[^’]*’"), re.compile(r'"[^"\n]*"'),
    # '…' as repr() writes it; an apostrophe inside a word (the file's) opens nothing.
    re.compile(r"(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])"),
]


def _strip(text: str) -> str:
    for pattern in (*_TOKENS[:1], *_QUOTED, *_TOKENS[1:]):
        text = pattern.sub(" ", text)
    return text


def stray_english(text: str) -> list[str]:
    """English words left in a Chinese text (tokens and quoted data aside)."""
    return [w for w in LATIN_WORD.findall(_strip(text)) if w.casefold() not in LATIN_IN_CHINESE]


def stray_chinese(text: str) -> list[str]:
    """Chinese left in an English text (tokens and quoted data aside)."""
    return CJK.findall(_strip(text))
