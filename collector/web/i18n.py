"""The web UI's words in Simplified Chinese and English.

The language is chosen by ``?lang=zh-CN|en`` (remembered in a cookie), else that cookie, else the
browser's ``Accept-Language``, else Chinese. Templates call ``t("key")``; a test checks that every
key a template uses exists here in both languages.
"""

from __future__ import annotations

from starlette.requests import Request

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_COOKIE = "seatguard_lang"

# key: (English, 简体中文)
STRINGS: dict[str, tuple[str, str]] = {
    "app.name": ("SeatGuard", "SeatGuard 坐席卫士"),
    "nav.report": ("Daily report", "每日报告"),
    "nav.wall": ("Live wall", "实时看板"),
    "nav.alerts": ("Alerts", "告警"),
    "alerts.open": ("Open", "未处理"),
    "alerts.acked": ("Acknowledged", "已确认"),
    "alerts.all": ("All", "全部"),
    "alerts.raised": ("Raised", "触发时间"),
    "alerts.severity": ("Severity", "严重程度"),
    "alerts.agent": ("Agent", "坐席"),
    "alerts.rule": ("Rule", "规则"),
    "alerts.reasons": ("Why", "原因"),
    "alerts.note": ("note (optional)", "备注（可选）"),
    "alerts.ack": ("Acknowledge", "确认"),
    "alerts.acked_by": ("acknowledged by", "确认人"),
    "nav.admin": ("Admin", "管理"),
    "nav.shifts": ("Shifts", "排班"),
    "nav.audit": ("Audit log", "审计日志"),
    "nav.me": ("My activity", "我的活动"),
    "nav.logout": ("Sign out", "退出登录"),
    "nav.lang": ("中文", "English"),
    "role.admin": ("administrator", "管理员"),
    "role.security": ("security", "安全团队"),
    "role.manager": ("manager", "团队经理"),
    "role.auditor": ("auditor", "审计员"),
    "role.agent": ("agent", "坐席"),
    # login
    "login.title": ("Sign in", "登录"),
    "login.name": ("User name", "用户名"),
    "login.password": ("Password", "密码"),
    "login.submit": ("Sign in", "登录"),
    "login.wrong": ("Wrong user name or password. After several failed attempts, sign-in waits a few "
                    "minutes before it tries a password again.",
                    "用户名或密码错误。多次失败后，需等待几分钟才会再次验证密码。"),
    "login.too_many": ("Too many sign-in attempts from this address. Wait a minute and try again.",
                       "此地址的登录尝试过多，请稍等一分钟后再试。"),
    "login.expired": ("The sign-in form expired. Please try again.", "登录表单已过期，请重试。"),
    "login.https": ("Signing in needs HTTPS. Open this page through the https address.",
                    "登录需要 HTTPS，请通过 https 地址访问。"),
    "login.notice": ("Every look at a timeline, report or audit log is recorded with your name.",
                     "每次查看时间线、报告或审计日志都会以您的名义被记录。"),
    "login.signed_out": ("You have signed out.", "您已退出登录。"),
    # errors
    "error.title": ("Something is not right", "出错了"),
    "error.403": ("This is outside what your role may see. The attempt has been recorded.",
                  "这超出了您的角色可查看的范围。此次尝试已被记录。"),
    "error.404": ("Not found.", "未找到。"),
    "error.csrf": ("The form expired or did not come from this site. Reload the page and try again.",
                   "表单已过期或并非来自本站。请刷新页面后重试。"),
    "error.other": ("The request could not be completed.", "请求无法完成。"),
    "error.back": ("Back to the start page", "返回首页"),
    # common
    "common.date": ("Date", "日期"),
    "common.show": ("Show", "显示"),
    "common.all": ("all", "全部"),
    "common.team": ("Team", "团队"),
    "common.agent": ("Agent", "坐席"),
    "common.none": ("Nothing to show.", "暂无内容。"),
    "common.yes": ("yes", "是"),
    "common.no": ("no", "否"),
    "common.prev_day": ("← previous day", "← 前一天"),
    "common.next_day": ("next day →", "后一天 →"),
    "common.signed_in_as": ("Signed in as", "当前用户"),
    "common.masked": ("Values are shown exactly as stored: masked to their last four characters.",
                      "所有值按存储原样显示：敏感号码仅保留后四位。"),
    # report
    "report.title": ("Daily anomaly report", "每日异常报告"),
    "report.none": ("There is no report for this day yet.", "该日期尚无报告。"),
    "report.build": ("Build the report now", "立即生成报告"),
    "report.rebuild": ("Rebuild", "重新生成"),
    "report.severity": ("Severity", "严重程度"),
    "report.rank": ("#", "排名"),
    "report.score": ("Score", "评分"),
    "report.reasons": ("Why", "原因"),
    "report.evidence": ("Evidence", "证据"),
    "report.label": ("Review", "复核"),
    "report.note": ("note", "备注"),
    "report.save": ("Save", "保存"),
    "report.saved": ("saved", "已保存"),
    "report.save_failed": ("not saved", "保存失败"),
    "report.findings": ("findings", "条发现"),
    "report.agents_scored": ("agents scored", "名坐席参与评分"),
    "report.no_findings": ("No findings match these filters.", "没有符合筛选条件的发现。"),
    "report.late_shifts": ("Shifts entered after this day (its stored features were recomputed with them):",
                           "该日结束后录入的排班（已据此重新计算该日特征）："),
    "report.entered_by": ("entered by", "录入人"),
    "report.teams": ("Teams", "团队概况"),
    "report.team_agents": ("agents", "坐席数"),
    "report.team_aht": ("avg. handling time", "平均处理时长"),
    "report.team_cases": ("cases closed", "结案数"),
    "report.team_findings": ("findings", "发现"),
    "report.open_timeline": ("timeline", "时间线"),
    "report.manager_scope": ("You see the findings of your own teams only.", "您只能看到本团队的发现。"),
    "label.": ("not reviewed", "未复核"),
    "label.confirmed": ("confirmed", "已确认"),
    "label.benign": ("benign", "误报"),
    "label.follow_up": ("follow up", "待跟进"),
    "severity.critical": ("critical", "严重"),
    "severity.high": ("high", "高"),
    "severity.medium": ("medium", "中"),
    "severity.low": ("low", "低"),
    "severity.none": ("none", "无"),
    # timeline
    "timeline.title": ("Timeline", "时间线"),
    "timeline.zoom_in": ("Zoom in", "放大"),
    "timeline.zoom_out": ("Zoom out", "缩小"),
    "timeline.zoom_reset": ("Whole day", "全天"),
    "timeline.lane.cases": ("Cases", "案件"),
    "timeline.lane.idle": ("Idle", "空闲"),
    "timeline.lane.pages": ("Pages", "网页"),
    "timeline.lane.markers": ("Copies, files, devices", "复制、文件、设备"),
    "timeline.lane.flags": ("Flagged", "标记时刻"),
    "timeline.events": ("Events", "事件列表"),
    "timeline.time": ("Time", "时间"),
    "timeline.seq": ("seq", "序号"),
    "timeline.kind": ("Kind", "类型"),
    "timeline.details": ("Details", "详情"),
    "timeline.cases": ("Cases handled", "已处理案件"),
    "timeline.case": ("Case", "案件"),
    "timeline.opened": ("Opened", "开始"),
    "timeline.closed": ("Closed", "结束"),
    "timeline.active": ("active", "操作"),
    "timeline.idle": ("idle", "空闲"),
    "timeline.handling": ("handling time", "处理时长"),
    "timeline.no_events": ("No events were stored for this day.", "该日期没有存储任何事件。"),
    "timeline.flagged": ("flagged", "已标记"),
    "timeline.legend": ("Bars: time in front; ◆ copy (red: ID or card numbers, or many phones); ▲ file write "
                        "(red: removable drive); ● device or process; ⚑ flagged by the report.",
                        "色条：前台时间；◆ 复制（红色：含身份证号、银行卡号或大量手机号）；"
                        "▲ 文件写入（红色：移动存储）；● 设备或进程；⚑ 报告标记的时刻。"),
    "timeline.events_count": ("events", "个事件"),
    "timeline.show_heartbeats": ("show heartbeats", "显示心跳事件"),
    # wall
    "wall.title": ("Live wall", "实时看板"),
    "wall.state.active": ("active", "在岗"),
    "wall.state.idle": ("idle", "空闲"),
    "wall.state.offline": ("offline", "离线"),
    "wall.state.agent_silent": ("agent silent", "客户端失联"),
    "wall.state.agent_stopped": ("agent stopped in shift", "排班内客户端停止"),
    "wall.app": ("In front", "当前程序"),
    "wall.cases": ("Cases today", "今日案件"),
    "wall.last": ("Last event", "最近事件"),
    "wall.live": ("live", "实时"),
    "wall.reconnecting": ("reconnecting…", "正在重新连接…"),
    "wall.revoked": ("revoked", "已吊销"),
    "wall.explain": ("Agent silent: the PC was running today but nothing has arrived for 5 minutes "
                     "without a clean stop.",
                     "客户端失联：该电脑今天曾运行，但已 5 分钟没有上报且未正常退出。"),
    # shifts
    "shifts.title": ("Shifts and overtime", "排班与加班"),
    "shifts.explain": ("A day's shift replaces the agent's usual shift on that day (rota); overtime adds a "
                       "scheduled window to it. Time in either is inside the shift. Give one date, or a first "
                       "and a last date.",
                       "当天班次会替换该坐席当天的常规班次（轮班）；加班会在当天班次之外增加一段已排时间。"
                       "两者内的时间都算作排班内。请填写一个日期，或起止日期。"),
    "shifts.new": ("Enter a shift or overtime", "录入班次或加班"),
    "shifts.date": ("Date", "日期"),
    "shifts.from": ("or from", "或起始日期"),
    "shifts.to": ("to", "截止日期"),
    "shifts.start": ("Start (HH:MM)", "开始（HH:MM）"),
    "shifts.end": ("End (HH:MM)", "结束（HH:MM）"),
    "shifts.overtime": ("scheduled overtime (added to the day's shift)", "已排加班（加在当天班次之外）"),
    "shifts.save": ("Save", "保存"),
    "shifts.entered": ("Entered for {first} to {last}", "{first} 至 {last} 已录入"),
    "shifts.kind": ("Kind", "类型"),
    "shifts.kind.shift": ("shift of the day", "当天班次"),
    "shifts.kind.overtime": ("overtime", "加班"),
    "shifts.window": ("Time", "时间"),
    "shifts.by": ("Entered by", "录入人"),
    "shifts.clear": ("Remove", "删除"),
    # admin
    "admin.title": ("Administration", "系统管理"),
    "admin.tokens": ("Enrollment tokens", "注册令牌"),
    "admin.token_new": ("New one-time token", "新建一次性令牌"),
    "admin.token_created": ("One-time enrollment token (shown once):", "一次性注册令牌（仅显示一次）："),
    "admin.token_hint": ("On the PC: seatguard-agent enroll --home DIR --collector URL --token TOKEN",
                         "在电脑上运行：seatguard-agent enroll --home DIR --collector URL --token TOKEN"),
    "admin.role": ("Role", "角色"),
    "admin.shift": ("Shift (09:00-18:00)", "班次（09:00-18:00）"),
    "admin.create": ("Create", "创建"),
    "admin.created": ("Created", "创建时间"),
    "admin.expires": ("Expires", "过期时间"),
    "admin.used_by": ("Used by", "使用者"),
    "admin.unused": ("unused", "未使用"),
    "admin.agents": ("Agents (PCs)", "坐席电脑"),
    "admin.events": ("Events", "事件数"),
    "admin.last_seen": ("Last upload", "最近上传"),
    "admin.insecure_transport": ("insecure transport", "不安全传输"),
    "admin.insecure_transport_hint": ("this agent talks to the collector over http:// or without certificate checks "
                                      "(agent setting allow_insecure_http)",
                                      "该客户端通过 http:// 或不校验证书与采集端通信"
                                      "（客户端设置 allow_insecure_http）"),
    "admin.revoke": ("Revoke", "吊销"),
    "admin.revoke_confirm": ("Revoke this agent? Its uploads are refused from now on.",
                             "确定吊销该坐席？此后其上传将被拒绝。"),
    "admin.reenroll": ("New token for this team", "为该团队新建令牌"),
    "admin.reenroll_hint": ("To re-enroll a PC: revoke it, create a token for its team and enroll it under a "
                            "new name.", "重新注册电脑：先吊销，再为其团队新建令牌，并以新名称注册。"),
    "admin.revoked": ("revoked", "已吊销"),
    "admin.teams": ("Teams", "团队"),
    "admin.managers": ("Managers", "经理"),
    "admin.users": ("Users", "用户"),
    "admin.user_new": ("New user", "新建用户"),
    "admin.user_created": ("Password for the new user (shown once):", "新用户密码（仅显示一次）："),
    "admin.user_teams": ("Teams (comma-separated, managers)", "团队（逗号分隔，经理用）"),
    "admin.user_agent": ("agent_id (agent users)", "agent_id（坐席用户）"),
    "admin.disabled": ("disabled", "已停用"),
    "admin.locked": ("locked", "已锁定"),
    "admin.disable": ("Disable", "停用"),
    "admin.enable": ("Enable", "启用"),
    "admin.policy": ("Policy", "策略"),
    "admin.policy_hint": ("JSON; agents receive it with their next upload. The version is managed for you.",
                          "JSON 格式；坐席会在下次上传时收到。版本号自动维护。"),
    "admin.policy_left_out": ("Left out by the agents and the detectors (matching them is not linear): what these "
                              "stored patterns match goes unseen until you rewrite them.",
                              "坐席端和检测器忽略了以下已保存的模式（匹配耗时非线性）：改写之前，它们匹配的内容不会被发现。"),
    "admin.policy_save": ("Save policy", "保存策略"),
    "admin.policy_saved": ("Policy saved as version", "策略已保存，版本"),
    "admin.jobs": ("Scheduled jobs", "定时任务"),
    "admin.jobs_hint": ("Each runs once for all collector processes on this database; the newest run of each.",
                        "每个任务在共用此数据库的所有采集端进程中只运行一次；显示各任务最近一次运行。"),
    "admin.jobs_none": ("No job has run yet (they run inside serve).", "尚无任务运行（任务在 serve 中运行）。"),
    "admin.job": ("Job", "任务"),
    "admin.job_runs": ("Runs kept", "保留的运行记录"),
    "admin.job_last": ("Last started", "最近开始"),
    "admin.job_where": ("Process (host:pid)", "进程（主机:pid）"),
    "admin.job_outcome": ("Outcome", "结果"),
    "admin.retention": ("Retention", "数据保留"),
    "admin.retention_text": ("Events are purged after {days} days. Days are calendar days in {tz}. "
                             "Change retention_days (and [retention] kinds, per kind) in collector.toml.",
                             "事件保留 {days} 天后清除。日期按 {tz} 时区计算。"
                             "可在 collector.toml 中修改 retention_days（按事件类型：[retention] kinds）。"),
    "admin.retention_kinds": ("Kept for fewer days (retention.kinds):", "保留天数更短的事件类型（retention.kinds）："),
    "admin.holds": ("Legal holds", "法律保全"),
    "admin.holds_hint": ("A legal hold suspends retention for one agent: nothing of theirs is purged until it is "
                         "lifted. Setting and lifting are audited with the reason; the agent sees the hold on "
                         "their own page.",
                         "法律保全会暂停某位坐席的数据保留期限：解除之前，其数据一概不清除。设置和解除均连同原因"
                         "记入审计日志；坐席可在自己的页面上看到保全。"),
    "admin.holds_none": ("No agent is under a legal hold.", "当前没有坐席处于法律保全中。"),
    "admin.hold_reason": ("Reason", "原因"),
    "admin.hold_by": ("Set by", "设置人"),
    "admin.hold_since": ("Since", "开始时间"),
    "admin.hold_set": ("Set legal hold", "设置法律保全"),
    "admin.hold_lift": ("Lift", "解除"),
    "admin.done": ("Done.", "已完成。"),
    # audit
    "audit.title": ("Audit log", "审计日志"),
    "audit.actor": ("Who", "操作人"),
    "audit.action": ("What", "操作"),
    "audit.target": ("On", "对象"),
    "audit.allowed": ("Allowed", "是否允许"),
    "audit.remote": ("From", "来源地址"),
    "audit.at": ("When", "时间"),
    "audit.from": ("From day", "起始日期"),
    "audit.to": ("To day", "结束日期"),
    "audit.search": ("Search", "搜索"),
    "audit.export": ("Export CSV", "导出 CSV"),
    "audit.refused": ("refused", "拒绝"),
    "audit.rows": ("records (newest first)", "条记录（最新在前）"),
    # me
    "me.title": ("My activity", "我的活动"),
    "me.retention": ("How long your data is kept", "您的数据保留多久"),
    "me.retention_text": ("Events are deleted after {days} days.", "事件在 {days} 天后删除。"),
    "me.retention_kind": ("{kind}: after {days} days.", "{kind}：{days} 天后删除。"),
    "me.hold": ("Your data is under a legal hold since {since}: nothing of it is deleted until the hold is "
                "lifted. Reason: {reason}",
                "自 {since} 起，您的数据处于法律保全中：保全解除前不会删除任何数据。原因：{reason}"),
    "me.notice": ("What SeatGuard records on your PC", "SeatGuard 在您的电脑上记录什么"),
    "me.viewers": ("Who looked at your data", "谁查看了您的数据"),
    "me.no_viewers": ("Nobody else has looked at your data.", "尚无其他人查看您的数据。"),
    "me.not_enrolled": ("Your PC has not sent anything yet.", "您的电脑尚未上报任何数据。"),
    "me.rights": ("Personal-information law gives you the right to know what is recorded about you and who "
                  "looked at it. Ask your administrator for a copy or a correction.",
                  "根据个人信息保护法，您有权了解记录了您的哪些信息以及谁查看过。如需副本或更正，请联系管理员。"),
}

NOTICE_ZH = (
    "SeatGuard 依据贵公司的客户数据保护政策在本电脑上运行。\n"
    "它记录：前台的应用程序和窗口标题、打开的工作网页、发生了复制或剪切（含身份证/手机/银行卡号的数量，"
    "最多一段已脱敏的预览——绝不记录复制的文字本身）、客户案件处理时长、空闲时间、工作文件夹和移动存储中的"
    "文件写入、插入的驱动器，以及远程控制、录屏和即时通讯程序的启动；仅在策略触发时截屏。"
    "它从不记录您按了哪些键。事件在本电脑上即已加密。"
)


def normalise(value: str | None) -> str | None:
    if not value:
        return None
    low = value.strip().lower()
    if low.startswith("zh"):
        return "zh-CN"
    if low.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str) -> str | None:
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise(tag)
        if lang and q > 0:
            choices.append((-q, i, lang))
    return min(choices)[2] if choices else None


def pick(request: Request) -> tuple[str, bool]:
    """(language, whether it came from ``?lang=`` and should be remembered in the cookie)."""
    asked = normalise(request.query_params.get("lang"))
    if asked:
        return asked, True
    return (normalise(request.cookies.get(LANG_COOKIE))
            or from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANG), False


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self._i = 1 if self.lang == "zh-CN" else 0

    def __call__(self, key: str, **params: object) -> str:
        pair = STRINGS.get(key)
        text = key if pair is None else pair[self._i]
        return text.format(**params) if params else text

    def has(self, key: str) -> bool:
        return key in STRINGS
