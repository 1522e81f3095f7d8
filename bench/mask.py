"""Masker benchmark: fields per second on one core, and false-positive rates per field type.

Run: ``.venv/bin/python bench/mask.py [--fields N] [--negatives N]``.  Seeded, so two runs on the
same machine mask the same fields.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contract.masking import DEFAULT_ENGINE, mask_text  # noqa: E402
from tests.test_masking_samples import (  # noqa: E402
    NEGATIVES,
    collisions,
    make_card,
    make_id18,
    make_phone,
    negatives,
)

APPS = ["chrome.exe", "msedge.exe", "WINWORD.EXE", "EXCEL.EXE", "explorer.exe", "WeChat.exe", "企业微信",
        "DingTalk.exe", "OUTLOOK.EXE", "Teams.exe", "notepad.exe", "softphone.exe"]
PLAIN_TITLES = ["客户详情 - 催收系统 - Google Chrome", "Inbox - zhang.wei@example.com - Outlook", "新标签页",
                "通话记录 - 呼叫中心", "还款计划 - 贷后管理系统 - Microsoft Edge", "Documents", "下载",
                "企业微信", "话术库.docx - Word", "Settings", "任务管理器", "知识库 - 常见问题"]
PLAIN_URLS = ["https://crm.example.com/customer/view?cid=8f3a2c&tab=loans", "https://kb.example.com/faq/refund",
              "https://www.baidu.com/s?wd=%E5%AE%A2%E6%88%B7%E6%8A%95%E8%AF%89", "https://mail.example.com/#inbox",
              "https://collect.example.com/queue?team=east&sort=due", "about:blank"]
PATHS = [r"C:\Users\zhang\Downloads\还款凭证.pdf", "/home/li/Documents/客户名单.xlsx",
         r"C:\Program Files\Softphone\softphone.exe", r"D:\export\notes.txt", "/tmp/screenshot.png"]


def _with_numbers(rng: random.Random) -> str:
    ms = rng.randint(1_700_000_000_000, 1_800_000_000_000)
    return rng.choice([
        f"案件 CASE-2026-{rng.randint(0, 999999):06d} - CRM",
        f"报表_2026年{rng.randint(1, 12)}月.xlsx - Excel",
        f"https://pay.example.com/q?t={ms}",
        f"https://crm.example.com/case/{rng.randint(100000, 999999)}/notes",
        rf"D:\export\cases_{rng.randint(20240101, 20261231)}.csv",
        f"应还 {rng.randint(100, 99999)}.{rng.randint(0, 99):02d} 元 - 还款计划",
        f"订单 {(ms - 1288834974657) << 22} - 商城后台",
        f"录音 {ms // 1000}.wav",
        f"Chrome/{rng.randint(120, 140)}.0.{rng.randint(1000, 7999)}.{rng.randint(0, 300)}",
    ])


def _sensitive(rng: random.Random) -> str:
    number = rng.choice([make_id18, make_phone, make_card])(rng)
    return rng.choice([f"客户 {number} - 催收系统", f"https://crm.example.com/search?q={number}",
                       f"张三 {number} 的通话记录", f"{number}"])


def realistic_fields(n: int, seed: int = 7) -> list[str]:
    """Event fields as the collector sees them: mostly without numbers, some with, a few sensitive."""
    rng = random.Random(seed)
    plain: list[Callable[[random.Random], str]] = [
        lambda r: r.choice(APPS), lambda r: r.choice(PLAIN_TITLES), lambda r: r.choice(PLAIN_URLS),
        lambda r: r.choice(PATHS)]
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.75:
            out.append(rng.choice(plain)(rng))
        elif roll < 0.97:
            out.append(_with_numbers(rng))
        else:
            out.append(_sensitive(rng))
    return out


# A window title of issue 16's ingest: an 18-digit run and a phone in one digit chunk (one space apart);
# the first run's check digit is wrong, the second one's right.
TITLES = {"bad ID + phone": "客户 张三 110101199003077777 13800138000 - CRM",
          "ID + phone": "客户 张三 11010519491231002X 13800138000 - CRM"}


def cpu_microseconds(call: Callable[[], object], calls: int = 200, rounds: int = 100) -> float:
    """CPU µs per call, the best of ``rounds`` rounds (CPU time moves less than wall time on a shared machine)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, time.process_time() - start)
    return best / calls * 1e6


def fields_per_second(fields: list[str], repeats: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        for field in fields:
            mask_text(field)
        best = min(best, clock() - start)
    return len(fields) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fields", type=int, default=200_000, help="fields in the throughput mix")
    parser.add_argument("--negatives", type=int, default=100_000, help="samples per negative field type")
    args = parser.parse_args()

    fields = realistic_fields(args.fields)
    print(f"throughput: {fields_per_second(fields):,.0f} fields/s on one core "
          f"({len(fields):,} seeded fields, best of 3)")
    with_digits = [f for f in fields if any(c.isdigit() for c in f)]
    print(f"  of which the {len(with_digits):,} fields that hold digits: "
          f"{fields_per_second(with_digits):,.0f} fields/s")
    sensitive = [f for f in fields if f != mask_text(f)]
    print(f"fields masked in the mix: {len(sensitive):,} ({len(sensitive) / len(fields):.2%})")
    cpu = [fields_per_second(f, 5, time.process_time) for f in (fields, with_digits, sensitive)]
    print(f"per CPU-second (steadier on a shared machine): {cpu[0]:,.0f} fields, {cpu[1]:,.0f} of those with "
          f"digits, {cpu[2]:,.0f} of those masked")
    for name, title in TITLES.items():
        find = cpu_microseconds(lambda t=title: DEFAULT_ENGINE.detector.find(t))
        mask = cpu_microseconds(lambda t=title: mask_text(t))
        print(f"title with {name}: find {find:.1f} µs, mask_text {mask:.1f} µs (CPU per call, best of 100 x 200)")
    print(f"\nfalse positives per field type ({args.negatives:,} seeded samples each):")
    for kind in sorted(NEGATIVES):
        samples = negatives(kind, args.negatives)
        changed = sum(mask_text(f) != f for f in samples)
        ambiguous = collisions(kind, args.negatives)
        print(f"  {kind:<12} {changed:>6} / {len(samples):,} = {changed / len(samples):.6f}"
              f"   (raw samples the rules require to mask, left out: {ambiguous})")


if __name__ == "__main__":
    main()
