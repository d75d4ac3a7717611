"""The reports' words in Chinese and English, and how times, spans and names are written.

A report is wholly in one language: `Lang` carries the labels, the profile's grade labels, the
unit names of units.toml and the people of notify.toml, and writes times in the configured
zone to the minute. Both label tables define the same keys (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "stage.reported": "已接报", "stage.assessing": "研判中", "stage.handling": "处置中",
        "stage.following": "跟踪中", "stage.subsided": "已平息", "stage.closed": "已结案",
        "clock.report_up": "向上级报告", "clock.first_response": "首次回应", "clock.statement": "发布权威信息",
        "clock.formal_reply": "正式答复", "clock.simple_answer": "简单问题解答", "clock.first_handling": "初步处置",
        "clock.final": "最长办理时限",
        "outcome.on_time": "按时完成", "outcome.met_late": "超时完成", "outcome.breached": "超时未办",
        "outcome.on_arrival": "到达即超时", "outcome.running": "计时中", "outcome.extended": "已延期",
        "outcome.cancelled": "已取消",
        "from.posted": "发帖时间", "from.observed": "发现时间", "from.reported": "接报时间", "from.graded": "定级时间",
        "platform.weibo": "微博", "platform.wechat": "微信", "platform.douyin": "抖音", "platform.kuaishou": "快手",
        "platform.toutiao": "今日头条", "platform.bilibili": "哔哩哔哩", "platform.forum": "论坛",
        "platform.news": "新闻网站", "platform.tv": "电视", "platform.newspaper": "报纸", "platform.radio": "广播",
        "platform.web": "网站", "platform.hotline": "热线", "platform.other": "其他",
        "media.none": "非媒体", "media.local": "本地媒体", "media.city": "市级媒体", "media.provincial": "省级媒体",
        "media.national": "全国性媒体",
        "sentiment.negative": "负面", "sentiment.neutral": "中性", "sentiment.positive": "正面",
        "topic.food_drug": "食品药品", "topic.production_safety": "安全生产", "topic.transport": "交通运输",
        "topic.environment": "生态环境", "topic.land_demolition": "征地拆迁", "topic.public_health": "公共卫生",
        "topic.disaster_relief": "防灾救灾", "topic.education": "教育", "topic.law_enforcement": "行政执法",
        "topic.other": "其他",
        "flag.rumour": "谣言", "flag.illegal": "违法违规信息",
        "channel.board": "值班看板", "channel.email": "电子邮件", "channel.webhook": "群机器人",
        "channel.wecom": "企业微信", "channel.dingtalk": "钉钉", "channel.feishu": "飞书",
        "via.cli": "命令行", "via.board": "值班看板", "via.link": "通知链接",
        "source.rules": "规则", "source.person": "人工",
        "notice.sent": "已发送", "notice.failed": "发送失败",
        "ungraded": "待定级", "unassigned": "未分派", "none": "无", "dash": "—", "yes": "是", "no": "否",
        "total": "合计", "no.": "序号",
        "event.incident.reported": "接报", "event.mention.added": "新增来源", "event.incident.staged": "阶段变更",
        "event.incident.noted": "备注", "event.incident.closed": "结案", "event.incident.graded": "定级",
        "event.incident.assigned": "确定责任单位", "event.incident.flagged": "标记",
        "event.incident.unflagged": "撤销标记", "event.clock.started": "开始计时", "event.clock.warning": "时限预警",
        "event.clock.breached": "超时", "event.clock.met": "完成", "event.clock.extended": "延期",
        "event.clock.cancelled": "取消计时", "event.unit.reminded": "提醒单", "event.unit.flagged": "列入通报",
        "event.notice.sent": "通知", "event.notice.failed": "通知失败", "event.notice.escalated": "升级通知",
        "event.incident.acknowledged": "签收",
        "event.statement.drafted": "起草通稿", "event.statement.approved": "审核同意通稿",
        "event.statement.rejected": "退回通稿", "event.statement.published": "发布通稿",
        "event.evidence.added": "固定证据", "event.task.added": "交办任务", "event.task.fed_back": "反馈任务",
        "event.meeting.held": "召开会议", "event.incident.supervised": "督办",
        "task.on_time": "按时反馈", "task.late": "逾期反馈", "task.open": "待反馈", "task.overdue": "超期未反馈",
        "task.cancelled": "结案撤销",
        "statement.drafted": "待审核", "statement.approved": "已审核", "statement.rejected": "已退回",
        "statement.published": "已发布",
        "step.drafted": "起草", "step.approved": "审核同意", "step.rejected": "退回", "step.published": "发布",
        "meeting.会商": "会商", "meeting.联席会议": "联席会议", "meeting.会办": "会办",
        "size.bytes": "字节", "size.KB": "千字节", "size.MB": "兆字节", "size.GB": "吉字节",
    },
    "en": {
        "stage.reported": "reported", "stage.assessing": "assessing", "stage.handling": "handling",
        "stage.following": "following", "stage.subsided": "subsided", "stage.closed": "closed",
        "clock.report_up": "report upward", "clock.first_response": "first response",
        "clock.statement": "authoritative statement", "clock.formal_reply": "formal reply",
        "clock.simple_answer": "simple answer", "clock.first_handling": "first handling", "clock.final": "final cap",
        "outcome.on_time": "met on time", "outcome.met_late": "met late", "outcome.breached": "breached, not done",
        "outcome.on_arrival": "late on arrival", "outcome.running": "running", "outcome.extended": "extended",
        "outcome.cancelled": "cancelled",
        "from.posted": "post", "from.observed": "observation", "from.reported": "report", "from.graded": "grading",
        "platform.weibo": "Weibo", "platform.wechat": "WeChat", "platform.douyin": "Douyin",
        "platform.kuaishou": "Kuaishou", "platform.toutiao": "Toutiao", "platform.bilibili": "Bilibili",
        "platform.forum": "forum", "platform.news": "news site", "platform.tv": "TV", "platform.newspaper": "newspaper",
        "platform.radio": "radio", "platform.web": "website", "platform.hotline": "hotline", "platform.other": "other",
        "media.none": "not media", "media.local": "local media", "media.city": "city media",
        "media.provincial": "provincial media", "media.national": "national media",
        "sentiment.negative": "negative", "sentiment.neutral": "neutral", "sentiment.positive": "positive",
        "topic.food_drug": "food and drugs", "topic.production_safety": "production safety",
        "topic.transport": "transport", "topic.environment": "environment",
        "topic.land_demolition": "land and demolition", "topic.public_health": "public health",
        "topic.disaster_relief": "disaster relief", "topic.education": "education",
        "topic.law_enforcement": "law enforcement", "topic.other": "other",
        "flag.rumour": "rumour", "flag.illegal": "illegal content",
        "channel.board": "duty board", "channel.email": "e-mail", "channel.webhook": "group robot",
        "channel.wecom": "WeCom", "channel.dingtalk": "DingTalk", "channel.feishu": "Feishu",
        "via.cli": "command line", "via.board": "duty board", "via.link": "notice link",
        "source.rules": "rules", "source.person": "person",
        "notice.sent": "sent", "notice.failed": "failed",
        "ungraded": "ungraded", "unassigned": "unassigned", "none": "none", "dash": "—", "yes": "yes", "no": "no",
        "total": "Total", "no.": "No.",
        "event.incident.reported": "reported", "event.mention.added": "new mention",
        "event.incident.staged": "stage changed", "event.incident.noted": "note", "event.incident.closed": "closed",
        "event.incident.graded": "graded", "event.incident.assigned": "owner set",
        "event.incident.flagged": "flagged", "event.incident.unflagged": "flag removed",
        "event.clock.started": "clock started", "event.clock.warning": "clock warning",
        "event.clock.breached": "clock breached", "event.clock.met": "clock met",
        "event.clock.extended": "clock extended", "event.clock.cancelled": "clock cancelled",
        "event.unit.reminded": "reminder slip", "event.unit.flagged": "unit named in the circular",
        "event.notice.sent": "notice", "event.notice.failed": "notice failed",
        "event.notice.escalated": "escalated", "event.incident.acknowledged": "acknowledged",
        "event.statement.drafted": "statement drafted", "event.statement.approved": "statement approved",
        "event.statement.rejected": "statement sent back", "event.statement.published": "statement published",
        "event.evidence.added": "evidence kept", "event.task.added": "task handed out",
        "event.task.fed_back": "task fed back", "event.meeting.held": "meeting held",
        "event.incident.supervised": "supervised",
        "task.on_time": "fed back on time", "task.late": "fed back late", "task.open": "awaiting feedback",
        "task.overdue": "overdue", "task.cancelled": "cancelled (closed)",
        "statement.drafted": "awaiting approval", "statement.approved": "approved", "statement.rejected": "sent back",
        "statement.published": "published",
        "step.drafted": "drafted", "step.approved": "approved", "step.rejected": "sent back",
        "step.published": "published",
        "meeting.会商": "consultation", "meeting.联席会议": "joint meeting", "meeting.会办": "joint handling meeting",
        "size.bytes": "bytes", "size.KB": "KB", "size.MB": "MB", "size.GB": "GB",
    },
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_LONG = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Lang:
    """One language's words and names, and the zone times are written in."""

    code: str  # zh | en
    zone: tzinfo
    grade_labels: Mapping[str, str] = field(default_factory=dict)
    unit_names: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)

    @property
    def zh(self) -> bool:
        return self.code == "zh"

    def t(self, key: str) -> str:
        """A label; an unknown key shows its last part (a value of a newer version, never a crash)."""
        return LABELS[self.code].get(key) or key.rpartition(".")[2]

    def pick(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    # --- names ---------------------------------------------------------------------------

    def grade(self, grade: str | None) -> str:
        if not grade or grade == "ungraded":
            return self.t("ungraded")
        label = self.grade_labels.get(grade)
        return f"{grade} {label}" if label else grade

    def unit(self, unit: str | None) -> str:
        if not unit or unit == "unassigned":
            return self.t("unassigned")
        return self.unit_names.get(unit, unit)

    def person(self, person: str | None) -> str:
        if not person:
            return self.t("dash")
        return self.people.get(person, person)

    def clock(self, name: str) -> str:
        if name.startswith("task:"):  # a task's clock: the task's id names it
            return self.pick(f"交办任务{name[5:]}", f"task {name[5:]}")
        return self.t(f"clock.{name}")

    def size(self, n: int) -> str:
        """1,258,291 → 1.2兆字节 / 1.2 MB (binary units)."""
        if n < 1024:
            return f"{n:,}{self.t('size.bytes')}" if self.zh else f"{n:,} {self.t('size.bytes')}"
        value, unit = n / 1024, "KB"
        for bigger in ("MB", "GB"):
            if value < 1024:
                break
            value, unit = value / 1024, bigger
        figure = f"{value:.1f}".removesuffix(".0")
        return f"{figure}{self.t(f'size.{unit}')}" if self.zh else f"{figure} {self.t(f'size.{unit}')}"

    def meeting(self, kind: str) -> str:
        return self.t(f"meeting.{kind}") if f"meeting.{kind}" in LABELS[self.code] else kind

    def stage(self, stage: str) -> str:
        return self.t(f"stage.{stage}")

    # --- times ---------------------------------------------------------------------------

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def time(self, at: datetime | None) -> str:
        """A moment to the minute: 11月18日 09:30 / 18 Nov 09:30."""
        if at is None:
            return self.t("dash")
        at = self.local(at)
        if self.zh:
            return f"{at.month}月{at.day}日 {at:%H:%M}"
        return f"{at.day} {_MONTHS[at.month - 1]} {at:%H:%M}"

    def said(self, at: datetime | None) -> str:
        """A moment in a sentence: 11月27日19时47分 / 27 Nov 19:47."""
        if at is None:
            return self.t("dash")
        at = self.local(at)
        return f"{at.month}月{at.day}日{self.clock_time(at)}" if self.zh else self.time(at)

    def clock_time(self, at: datetime) -> str:
        """The time of day alone, as a sentence writes it: 17时00分 / 17:00."""
        at = self.local(at)
        return f"{at.hour}时{at.minute:02d}分" if self.zh else f"{at:%H:%M}"

    def date(self, day: date | datetime, *, year: bool = True) -> str:
        """2026年11月18日 / 18 November 2026 (official dates: no zero padding)."""
        if isinstance(day, datetime):
            day = self.local(day).date()
        if self.zh:
            return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"
        return f"{day.day} {_MONTHS_LONG[day.month - 1]}" + (f" {day.year}" if year else "")

    def short_date(self, day: date) -> str:
        """A day in a table: 11月16日（一） / Mon 16 Nov."""
        if self.zh:
            return f"{day.month}月{day.day}日（{_WEEKDAYS_ZH[day.weekday()]}）"
        return f"{_WEEKDAYS_EN[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"

    def span(self, minutes: int | None) -> str:
        """2天3小时 / 2 d 3 h; to the minute below a day."""
        if minutes is None:
            return self.t("dash")
        minutes = abs(minutes)
        days, rest = divmod(minutes, 1440)
        hours, mins = divmod(rest, 60)
        if self.zh:
            parts = [f"{days}天" if days else "", f"{hours}小时" if hours else "",
                     f"{mins}分钟" if mins and not days else ""]
            return "".join(parts) or "0分钟"
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins and not days else ""]
        return " ".join(p for p in parts if p) or "0 min"

    def pct(self, value: float | None) -> str:
        return self.t("dash") if value is None else f"{value:.1f}%"

    def count_list(self, counts: Mapping[str, int], name: str = "grade") -> str:
        """'重大2起、较大1起' / '2 Major, 1 Large': the non-zero counts by grade."""
        parts = []
        for key, n in counts.items():
            if not n:
                continue
            label = self.grade_labels.get(key) or self.t(key) if name == "grade" else key
            parts.append(f"{label}{n}起" if self.zh else f"{n} {label}")
        return ("、" if self.zh else ", ").join(parts)

    def join(self, items: list[str]) -> str:
        return ("、" if self.zh else ", ").join(items)


def same_keys() -> bool:
    return set(LABELS["zh"]) == set(LABELS["en"])
