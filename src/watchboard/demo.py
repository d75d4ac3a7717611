"""`watchboard demo`: a realistic morning in a county duty room, fed into a running system.

Twelve incidents of the kinds the seed plans name, on several platforms; follow-up mentions
arrive over about a minute with growing metrics, so grades rise live on the board. Reports
carry URLs, so the follow-ups merge by URL (and some by near-identical title). Regions are
the towns of the sample county in units.toml. A system is fed once: a second run finds the
first report's incident and says so (`--again` feeds it anyway).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nats.aio.client import Client

from watchboard.board.i18n import Lang, named, t
from watchboard.bus.subjects import Subjects
from watchboard.client import request
from watchboard.domain.errors import message_in
from watchboard.domain.present import local


def _r(title: str, platform: str, url: str, region: str | None, topic: str | None, reposts: int,
       comments: int, **extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {"title": title, "platform": platform, "url": url, "topic": topic,
                              "metrics": {"reposts": reposts, "comments": comments,
                                          "likes": reposts * 3, "views": reposts * 120 + comments * 40},
                              "reporter": "monitor-01"}
    if region:
        report["region"] = region
    report.update(extra)
    return {k: v for k, v in report.items() if v is not None}


# (seconds after start, report). Titles and regions match config/units.toml's sample county.
SCENARIO: list[tuple[float, dict[str, Any]]] = [
    (0, _r("网传仲山镇中学食堂使用过期食材", "weibo", "https://weibo.com/7001/canteen", "仲山镇", "food_drug", 12, 30,
           summary="有网友发帖称仲山镇中学食堂使用过期食材，并附照片，评论区家长情绪激动。",
           evidence=["截图: canteen-0801.png"])),
    (2, _r("城东片区拆迁补偿标准不一 村民质疑", "forum", "https://bbs.qingxi.gov.example/t/5531", "城关镇",
           "land_demolition", 3, 25, summary="论坛帖子称同一片区补偿标准不一，多名村民跟帖。")),
    (4, _r("视频：城管执法时与摊贩发生推搡", "douyin", "https://www.douyin.com/video/880011", "城关镇",
           "law_enforcement", 40, 120, summary="短视频显示城管队员与流动摊贩发生推搡，播放量上升。")),
    (6, _r("暴雨过后安置点救灾物资发放慢", "wechat", "https://mp.weixin.qq.com/s/rain-relief", "石桥乡",
           "disaster_relief", 8, 16, summary="公众号文章反映暴雨后安置点物资发放迟缓。")),
    (8, _r("县人民医院门诊排队三小时 患者吐槽", "weibo", "https://weibo.com/7002/hospital", None,
           "public_health", 30, 60, summary="多名患者在微博吐槽县人民医院门诊排队时间长。")),
    (10, _r("热心司机雨夜送迷路老人回家", "toutiao", "https://www.toutiao.com/a/kind-driver", "城关镇", None, 60, 80,
            sentiment="positive", summary="出租车司机雨夜护送迷路老人回家，网友点赞。")),
    (12, _r("化工园区附近河道出现异味 网友担忧", "weibo", "https://weibo.com/7003/river", "河西镇", "environment",
            25, 40, summary="网友称化工园区附近河道有刺鼻异味，担心水质。")),
    (14, _r("网传某小区业主群称燃气管道泄漏", "wechat", "https://mp.weixin.qq.com/s/gas-leak", "城关镇",
            "production_safety", 5, 10, summary="业主群截图称小区燃气管道泄漏，已有人报警。")),
    (16, _r("县道公交停运 学生上学难", "kuaishou", "https://www.kuaishou.com/short-video/bus-stop", "石桥乡",
            "transport", 15, 35, summary="快手视频反映县道公交停运，学生只能步行上学。")),
    (18, _r("中学教师体罚学生视频流传", "bilibili", "https://www.bilibili.com/video/BV1teacher", "仲山镇",
            "education", 50, 200, summary="视频显示某中学教师体罚学生，引发家长关注。", unit_hint="education")),
    (20, _r("农贸市场猪肉注水传闻", "forum", "https://bbs.qingxi.gov.example/t/5602", "河西镇", "food_drug", 2, 8)),
    (22, _r("县城主干道深夜施工扰民", "hotline", "https://12345.qingxi.gov.example/ticket/99812", "城关镇", None, 0, 3,
            summary="12345热线多名市民投诉深夜施工噪音。")),
    # The canteen story spreads: more reposts, a second platform, then the city paper.
    (25, _r("网传仲山镇中学食堂使用过期食材", "weibo", "https://weibo.com/7001/canteen", "仲山镇", "food_drug", 160, 300)),
    # Same story under a near-identical title on another platform: merged by title.
    (30, _r("网传：仲山镇中学食堂 使用过期食材！！", "douyin", "https://www.douyin.com/video/880099", "仲山镇",
            "food_drug", 90, 400)),
    (36, _r("城管执法推搡视频持续发酵", "douyin", "https://www.douyin.com/video/880011", "城关镇", "law_enforcement",
            400, 1500)),
    (40, _r("暴雨过后安置点救灾物资发放慢", "weibo", "https://weibo.com/7004/relief", "石桥乡", "disaster_relief",
            70, 210, cross_region=True)),
    (45, _r("仲山镇中学食堂使用过期食材", "newspaper", "https://news.city.example/2026/canteen", "仲山镇",
            "food_drug", 0, 0, media_level="city", summary="市报刊发调查报道。")),
    (50, _r("燃气泄漏致小区居民紧急疏散", "weibo", "https://weibo.com/7005/gas", "城关镇", "production_safety",
            300, 800, emergency=True, stability_risk=True,
            summary="燃气管道泄漏，小区居民被紧急疏散，现场有消防车。")),
    (55, _r("县人民医院门诊排队三小时 患者吐槽", "douyin", "https://www.douyin.com/video/880123", None,
            "public_health", 45, 140)),
    (60, _r("城东片区拆迁补偿标准不一 村民质疑", "weibo", "https://weibo.com/7006/demolition", "城关镇",
            "land_demolition", 120, 260)),
]


DEMO_MARK_URL = SCENARIO[0][1]["url"]  # the first report: an incident with it means the demo was fed


async def demo_fed_at(nc: Client) -> datetime | None:
    """When the demo was fed into this system (the incident of its first report), else None.

    The system keeps its incidents in its data folder, so this is "once per data folder"
    whether the demo comes from `up --demo` or `watchboard demo`."""
    from watchboard.client import load_views

    for view in (await load_views(nc)).values():
        if view.core is not None and any(m.url == DEMO_MARK_URL for m in view.core.mentions):
            return view.core.reported_at
    return None


async def run_demo(nc: Client, subjects: Subjects, *, speed: float = 1.0, quiet: bool = False,
                   lang: Lang = "en", zone: ZoneInfo | None = None, again: bool = False,
                   say: Callable[[str], None] | None = None) -> int:
    """Feed the scenario once; prints one line per report unless quiet. Returns an exit code.

    A system that already has it is not fed again (its reports would merge into the same
    incidents and raise their grades a second time) unless `again`; `say` gets that notice."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    if not again:
        fed = await demo_fed_at(nc)
        if fed is not None:
            text = t("cli.demo.already", lang, at=local(fed, zone, year=True))
            (say or (lambda m: print(m, file=sys.stderr)))(text)
            return 0
    start = asyncio.get_running_loop().time()
    base = datetime.now(UTC)
    failures = 0
    for offset, report in SCENARIO:
        wait = start + offset / max(speed, 0.01) - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        body = dict(report, observed_at=(base + timedelta(seconds=offset / max(speed, 0.01))).isoformat())
        reply = await request(nc, subjects.submit, json.dumps(body, ensure_ascii=False).encode())
        if not reply.get("ok"):
            failures += 1
        if not quiet:
            if reply.get("ok"):
                what = t("cli.demo.merged" if reply.get("merged") else "cli.demo.new", lang)
                print(t("cli.demo.line", lang, offset=offset, what=what, id=reply["incident_id"],
                        platform=named("platform", report["platform"], lang), title=report["title"]))
            else:
                err = reply.get("error") or {}
                field = t("cli.error.field", lang, field=err["field"]).strip() + " " if err.get("field") else ""
                print(t("cli.demo.refused", lang, offset=offset, error=field + message_in(err, lang)),
                      file=sys.stderr)
    if not quiet:
        print(t("cli.demo.done", lang, total=len(SCENARIO), failures=failures))
    return 0 if failures == 0 else 1
