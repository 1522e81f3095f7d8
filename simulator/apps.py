"""The desktop software of a work-from-home seat and the CRM's pages, as the agent would see them."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.identifiers import Customer

CRM = "https://crm.lender.example"
KB = "https://kb.lender.example"


@dataclass(frozen=True, slots=True)
class App:
    """A program: process name, full path, process.start category, window-title suffix."""

    name: str
    exe: str
    category: str = "other"
    suffix: str = ""

    def title(self, text: str) -> str:
        return f"{text}{self.suffix}" if self.suffix else text


_PF = "C:\\Program Files"
_PF86 = "C:\\Program Files (x86)"
_OFFICE = f"{_PF}\\Microsoft Office\\root\\Office16"

CHROME = App("chrome.exe", f"{_PF}\\Google\\Chrome\\Application\\chrome.exe", suffix=" - Google Chrome")
EDGE = App("msedge.exe", f"{_PF86}\\Microsoft\\Edge\\Application\\msedge.exe", suffix=" - Microsoft Edge")
WXWORK = App("WXWork.exe", f"{_PF86}\\WXWork\\WXWork.exe", "messaging")
DINGTALK = App("DingTalk.exe", f"{_PF86}\\DingDing\\DingTalk.exe", "messaging")
WECHAT = App("WeChat.exe", f"{_PF}\\Tencent\\WeChat\\WeChat.exe", "messaging")
MICROSIP = App("microsip.exe", f"{_PF86}\\MicroSIP\\microsip.exe")
ZOIPER = App("Zoiper5.exe", f"{_PF}\\Zoiper5\\Zoiper5.exe")
AGENTBAR = App("AgentBar.exe", "C:\\CallCenter\\AgentBar\\AgentBar.exe")
OUTLOOK = App("OUTLOOK.EXE", f"{_OFFICE}\\OUTLOOK.EXE", suffix=" - Outlook")
EXCEL = App("EXCEL.EXE", f"{_OFFICE}\\EXCEL.EXE", suffix=" - Excel")
NOTEPAD = App("notepad.exe", "C:\\Windows\\System32\\notepad.exe", suffix=" - 记事本")
EXPLORER = App("explorer.exe", "C:\\Windows\\explorer.exe")
ONEDRIVE = App("OneDrive.exe", "C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe")
WEMEET = App("wemeetapp.exe", f"{_PF86}\\Tencent\\WeMeet\\wemeetapp.exe")

BROWSERS = {"chrome.exe": CHROME, "msedge.exe": EDGE}
MESSENGERS = {"WXWork.exe": WXWORK, "DingTalk.exe": DINGTALK}
SOFTPHONES = {"microsip.exe": MICROSIP, "Zoiper5.exe": ZOIPER, "AgentBar.exe": AGENTBAR}
MESSENGER_HOME = {"WXWork.exe": "企业微信", "DingTalk.exe": "钉钉"}

REMOTE_TOOLS = (
    App("AnyDesk.exe", f"{_PF86}\\AnyDesk\\AnyDesk.exe", "remote_access"),
    App("TeamViewer.exe", f"{_PF}\\TeamViewer\\TeamViewer.exe", "remote_access"),
    App("ToDesk.exe", f"{_PF}\\ToDesk\\ToDesk.exe", "remote_access"),
    App("SunloginClient.exe", f"{_PF}\\Oray\\SunLogin\\SunloginClient\\SunloginClient.exe", "remote_access"),
)
RECORDERS = (
    App("obs64.exe", f"{_PF}\\obs-studio\\bin\\64bit\\obs64.exe", "screen_capture"),
    App("bdcam.exe", f"{_PF}\\Bandicam\\bdcam.exe", "screen_capture"),
    App("EVCapture.exe", f"{_PF}\\EVCapture\\EVCapture.exe", "screen_capture"),
)
JIGGLER = App("MouseJiggler.exe", "C:\\Users\\Public\\Tools\\MouseJiggler.exe")


def system_name(team_kind: str) -> str:
    """The CRM module a team works in, as it appears in page titles."""
    return "贷后管理系统" if team_kind == "col" else "客服工作台"


def customer_page(customer: Customer, case: str | None, system: str) -> tuple[str, str]:
    url = f"{CRM}/customers/{customer.cid}" + (f"?case={case}" if case else "")
    return url, f"客户详情 - {customer.name} - {system}"


def case_page(case: str) -> tuple[str, str]:
    return f"{CRM}/cases/{case}", f"Case {case} - CRM"


def customer_tab(customer: Customer, tab: str, system: str) -> tuple[str, str]:
    label = {"repayments": "还款记录", "contacts": "联系人", "loans": "借款信息", "calls": "通话记录"}[tab]
    return f"{CRM}/customers/{customer.cid}/{tab}", f"{label} - {customer.name} - {system}"


def identity_page(customer: Customer, system: str) -> tuple[str, str]:
    """The identity check page shows the full ID number in its title (raw data the collector masks)."""
    title = f"身份核验 - {customer.name} {customer.id_number} - {system}"
    return f"{CRM}/customers/{customer.cid}/identity", title


def crm_page(path: str, label: str, system: str) -> tuple[str, str]:
    return f"{CRM}{path}", f"{label} - {system}"


KB_TOPICS = (
    "催收话术规范",
    "投诉处理流程",
    "提前还款政策",
    "减免审批流程",
    "逾期费用说明",
    "身份核验指引",
    "客户信息保护制度",
    "还款渠道说明",
    "征信异议处理",
    "常见问题解答",
)
PERSONAL_SITES = (
    ("https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94", "天气_百度搜索"),
    ("https://news.qq.com/", "腾讯新闻"),
    ("https://www.taobao.com/", "淘宝网 - 淘！我喜欢"),
    ("https://www.bilibili.com/", "哔哩哔哩 (゜-゜)つロ 干杯~-bilibili"),
    ("https://www.zhihu.com/", "知乎 - 有问题，就会有答案"),
    ("https://www.jd.com/", "京东(JD.COM)-正品低价、品质保障、配送及时、轻松购物！"),
    ("https://map.baidu.com/", "百度地图"),
)
