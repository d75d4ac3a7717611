"""The words of grade reasons, in Chinese and English (pure; used by `domain.grading`).

A grade reason is read on the board and in notices in the reader's language, so grading
writes every reason twice: `reasons` wholly in Chinese, `reasons_en` wholly in English
(issue 15). The names here are the report's enumerations as a duty officer says them; the
board has its own labels (`board/i18n.py`) for its screens, but the domain must not import
the board, and a reason is written once, when the grade is decided.

Data a person typed (region names, a regrade's reason, an actor) is quoted as given.
"""

from __future__ import annotations

from collections.abc import Iterable

PLATFORM_ZH: dict[str, str] = {
    "weibo": "微博", "wechat": "微信", "douyin": "抖音", "kuaishou": "快手", "toutiao": "今日头条",
    "bilibili": "哔哩哔哩", "forum": "论坛", "news": "新闻网站", "tv": "电视", "newspaper": "报纸",
    "radio": "广播", "web": "网站", "hotline": "热线", "other": "其他平台",
}
PLATFORM_EN: dict[str, str] = {
    "weibo": "Weibo", "wechat": "WeChat", "douyin": "Douyin", "kuaishou": "Kuaishou", "toutiao": "Toutiao",
    "bilibili": "Bilibili", "forum": "forum", "news": "news site", "tv": "TV", "newspaper": "newspaper",
    "radio": "radio", "web": "website", "hotline": "hotline", "other": "other platform",
}
MEDIA_LEVEL_ZH: dict[str, str] = {
    "none": "非媒体", "local": "县级", "city": "市级", "provincial": "省级", "national": "国家级",
}
TOPIC_ZH: dict[str, str] = {
    "food_drug": "食品药品", "production_safety": "安全生产", "transport": "交通运输",
    "environment": "环境保护", "land_demolition": "征地拆迁", "public_health": "公共卫生",
    "disaster_relief": "防灾救灾", "education": "教育", "law_enforcement": "执法", "other": "其他",
}
TOPIC_EN: dict[str, str] = {
    "food_drug": "food and drug safety", "production_safety": "production safety", "transport": "transport",
    "environment": "environment", "land_demolition": "land requisition and demolition",
    "public_health": "public health", "disaster_relief": "disaster relief", "education": "education",
    "law_enforcement": "law enforcement", "other": "other",
}
SENTIMENT_ZH: dict[str, str] = {"negative": "负面", "neutral": "中性", "positive": "正面"}


def platform(name: str, lang: str) -> str:
    table = PLATFORM_EN if lang == "en" else PLATFORM_ZH
    return table.get(name, name)


def platforms(names: Iterable[str], lang: str, sep: str | None = None) -> str:
    """'微博、抖音' / 'Weibo, Douyin' (or joined by `sep`)."""
    joiner = sep if sep is not None else (", " if lang == "en" else "、")
    return joiner.join(platform(n, lang) for n in names)


def media_level(level: str, lang: str) -> str:
    return level if lang == "en" else MEDIA_LEVEL_ZH.get(level, level)


def topic(name: str, lang: str) -> str:
    table = TOPIC_EN if lang == "en" else TOPIC_ZH
    return table.get(name, name)


def sentiment(name: str, lang: str) -> str:
    return name if lang == "en" else SENTIMENT_ZH.get(name, name)


def cite(text: str, quote: str, lang: str) -> str:
    """The rule's finding followed by the plan's words: '…(「…」,预案003 三(三))' / '… ("…", seed 003 3(3))'.

    No quote configured: the finding alone (a rule a site added without a plan behind it)."""
    if not quote:
        return text
    return f"{text}({quote})" if lang == "zh" else f"{text} ({quote})"


def arrow(rule_grade: str, final: str, label: str, lang: str) -> str:
    """'→ II 重大'; a collapsed grade says what it counts as: '→ III,按 IV 一般计' / '→ III, counted as IV General'."""
    if final == rule_grade:
        return f"→ {final} {label}"
    if lang == "en":
        return f"→ {rule_grade}, counted as {final} {label}"
    return f"→ {rule_grade},按 {final} {label}计"


def joined(text: str, tail: str, lang: str) -> str:
    """A finding and its arrow: no space after a closing full-width parenthesis in Chinese."""
    return f"{text}{tail}" if lang == "zh" and text.endswith(")") else f"{text} {tail}"
