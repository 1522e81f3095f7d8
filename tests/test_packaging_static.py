"""Static checks of everything under packaging/ and the packaging scripts (no installs, a few seconds).

- shell scripts: shellcheck (Debian's ``shellcheck``; skipped with the reason when it is missing);
- PowerShell: parsed by ``pwsh`` (and PSScriptAnalyzer) when installed; always a structural check
  (ASCII only, balanced brackets outside strings and comments, strict mode, documented parameters,
  no variable used that is never set) because Debian ships no PowerShell;
- plists, configuration profiles, policy templates, compose file and Dockerfile parse and agree with
  the code; systemd units pass ``systemd-analyze verify``; CONFIG.md is what the code says.
"""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.config import SETTINGS as AGENT_SETTINGS
from collector.config import SETTINGS as COLLECTOR_SETTINGS
from tests.conftest import BIN, ROOT

PACKAGING = ROOT / "packaging"
SHELL_SCRIPTS = sorted([*PACKAGING.rglob("*.sh"), PACKAGING / "linux" / "seatguard-agent-session",
                        PACKAGING / "linux" / "seatguard-status",
                        *(ROOT / "scripts" / f"{name}.sh" for name in ("build-agent", "gen-config-doc",
                                                                        "backup-collector", "restore-collector"))])
POWERSHELL = sorted(PACKAGING.rglob("*.ps1"))
PLACEHOLDER_ID = "aaaabbbbccccddddeeeeffffgggghhhh"


# ---- shell --------------------------------------------------------------------------------------------


def test_every_shell_script_is_executable_and_passes_shellcheck() -> None:
    assert len(SHELL_SCRIPTS) >= 10
    for script in SHELL_SCRIPTS:
        assert os.access(script, os.X_OK), f"{script} is not executable"
        assert script.read_text(encoding="utf-8").startswith("#!"), f"{script} has no #! line"
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    proc = subprocess.run(["shellcheck", "--severity=style", *map(str, SHELL_SCRIPTS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- PowerShell ---------------------------------------------------------------------------------------

PS_AUTOMATIC = {"_", "psitem", "psscriptroot", "lastexitcode", "true", "false", "null", "erroractionpreference",
                "args", "input", "pscmdlet", "psboundparameters", "host", "home", "pid"}


def _ps_code(text: str) -> tuple[str, list[str]]:
    """Code with comments and single-quoted strings blanked, and bracket problems.

    Double-quoted strings are kept (PowerShell expands variables in them) but their brackets do not
    count. Handles ``<# #>`` block comments, ``#`` line comments, ``''`` and backtick escapes, and
    here-strings (``@" ... "@``, ``@' ... '@``).
    """
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    problems: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    i, n = 0, len(text)
    line = 1
    while i < n:
        c = text[i]
        if text.startswith("<#", i):
            j = text.find("#>", i + 2)
            if j < 0:
                problems.append(f"line {line}: unterminated <# comment")
                break
            line += text.count("\n", i, j)
            out.append("\n" * text.count("\n", i, j))
            i = j + 2
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith(("@\"", "@'"), i) and text[i + 2:i + 3] in ("\n", "\r"):
            end = "\n" + text[i + 1] + "@"
            j = text.find(end, i)
            if j < 0:
                problems.append(f"line {line}: unterminated here-string")
                break
            chunk = text[i:j + len(end)]
            out.append(chunk if text[i + 1] == '"' else "\n" * chunk.count("\n"))
            line += chunk.count("\n")
            i = j + len(end)
            continue
        if c in "'\"":
            j = i + 1
            while j < n:
                if text[j] == "`" and c == '"':
                    j += 2
                    continue
                if text[j] == c:
                    if text[j + 1:j + 2] == c:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                problems.append(f"line {line}: unterminated {c} string")
                break
            chunk = text[i:j + 1]
            out.append(chunk if c == '"' else "''" + "\n" * chunk.count("\n"))
            line += chunk.count("\n")
            i = j + 1
            continue
        if c == "`":
            out.append(text[i:i + 2])
            line += text[i:i + 2].count("\n")
            i += 2
            continue
        if c in "({[":
            stack.append((c, line))
        elif c in ")}]":
            if not stack or stack[-1][0] != pairs[c]:
                problems.append(f"line {line}: unbalanced {c!r}")
            else:
                stack.pop()
        if c == "\n":
            line += 1
        out.append(c)
        i += 1
    problems += [f"line {ln}: {ch!r} never closed" for ch, ln in stack]
    return "".join(out), problems


def _ps_param_names(code: str) -> list[str]:
    start = re.search(r"\bparam\s*\(", code, re.I)
    assert start, "no param( ) block"
    depth, i = 1, start.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        i += 1
    return re.findall(r"\]\s*\$(\w+)", code[start.end():i - 1])


@pytest.mark.parametrize("script", POWERSHELL, ids=lambda p: p.name)
def test_powershell_structure(script: Path) -> None:
    raw = script.read_bytes()
    assert raw.isascii(), "Windows PowerShell 5.1 reads a file without BOM as ANSI: keep the scripts ASCII"
    text = raw.decode("ascii")
    code, problems = _ps_code(text)
    assert not problems, problems
    assert "[CmdletBinding()]" in code and "Set-StrictMode -Version Latest" in code
    assert "$ErrorActionPreference = 'Stop'" in text
    params = _ps_param_names(code)
    documented = {m.lower() for m in re.findall(r"^\.PARAMETER (\w+)", text, re.M)}
    assert params and {p.lower() for p in params} == documented, "every parameter has a .PARAMETER help entry"
    assert ".SYNOPSIS" in text and ".DESCRIPTION" in text
    set_names = {p.lower() for p in params}
    set_names |= {m.lower() for m in re.findall(r"\]\s*\$(\w+)", code)}
    set_names |= {m.lower() for m in re.findall(r"\$(\w+)\s*[+]?=(?!=)", code)}
    set_names |= {m.lower() for m in re.findall(r"\bforeach\s*\(\s*\$(\w+)", code, re.I)}
    used = {m.lower() for m in re.findall(r"\$\{?(\w+)(?![\w:])", code)}
    unknown = sorted(used - set_names - PS_AUTOMATIC)
    assert not unknown, f"variables used but never set (typo?): {unknown}"


def test_powershell_admin_scripts_require_elevation() -> None:
    for name in ("install.ps1", "uninstall.ps1"):
        text = (PACKAGING / "windows" / name).read_text(encoding="ascii")
        assert text.startswith("#Requires -Version 5.1\n#Requires -RunAsAdministrator\n")
    install = (PACKAGING / "windows" / "install.ps1").read_text(encoding="ascii")
    principals = re.findall(r"New-ScheduledTaskPrincipal .*", install)
    assert len(principals) == 2 and all("-RunLevel Limited" in p for p in principals)
    assert not any(bad in p for p in principals for bad in ("SYSTEM", "S-1-5-18", "ServiceAccount", "Highest")), \
        "the logon task runs in the user's session with limited rights, never as SYSTEM"
    assert "New-ScheduledTaskTrigger -AtLogOn" in install


def test_the_structural_check_catches_mistakes() -> None:
    assert _ps_code("if ($a) { Write-Host 'x' ")[1]
    assert _ps_code("Write-Host \"unterminated")[1]
    assert not _ps_code("Write-Host '(' \"{\" # )\n<# ] #>\n@(1, 2)")[1]


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh is not installed (Debian ships no PowerShell)")
@pytest.mark.parametrize("script", POWERSHELL, ids=lambda p: p.name)
def test_powershell_parses_with_pwsh(script: Path) -> None:
    check = ("$errs = $null; [void][System.Management.Automation.Language.Parser]::ParseFile($args[0], [ref]$null, "
             "[ref]$errs); if ($errs) { $errs | ForEach-Object { $_.ToString() }; exit 1 }; "
             "if (Get-Module -ListAvailable PSScriptAnalyzer) { $r = Invoke-ScriptAnalyzer -Path $args[0] "
             "-Severity Error; if ($r) { $r | Out-String; exit 1 } }")
    proc = subprocess.run(["pwsh", "-NoProfile", "-NonInteractive", "-Command", check, str(script)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- plists, profiles, policies -------------------------------------------------------------------------


def test_launch_agent_plist() -> None:
    plist = plistlib.loads((PACKAGING / "macos" / "com.seatguard.agent.plist").read_bytes())
    assert plist["Label"] == "com.seatguard.agent"
    assert plist["ProgramArguments"] == ["@PREFIX@/bin/seatguard-agent", "run", "--home", "@AGENT_HOME@"]
    assert plist["LimitLoadToSessionType"] == "Aqua", "the sensors need the user's GUI session"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    install = (PACKAGING / "macos" / "install.sh").read_text(encoding="utf-8")
    assert "@PREFIX@" in install and "@AGENT_HOME@" in install and "/Library/LaunchAgents/" in install


def test_pppc_profile_covers_the_permissions_the_sensors_need() -> None:
    profile = plistlib.loads((PACKAGING / "macos" / "seatguard-pppc.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration"
    payload = profile["PayloadContent"][0]
    assert payload["PayloadType"] == "com.apple.TCC.configuration-profile-policy"
    services = payload["Services"]
    assert set(services) == {"Accessibility", "ListenEvent", "ScreenCapture"}
    assert services["Accessibility"][0]["Authorization"] == "Allow"
    for name in ("ListenEvent", "ScreenCapture"):  # MDM may not grant these, only let the user do it
        assert services[name][0]["Authorization"] == "AllowStandardUserToSetSystemService"
    for entries in services.values():
        entry = entries[0]
        assert entry["Identifier"] == "/Library/SeatGuard/agent/seatguard-agent" and entry["IdentifierType"] == "path"
        assert 'identifier "com.seatguard.agent"' in entry["CodeRequirement"]
        assert "Allowed" not in entry, "Allowed and Authorization exclude each other"
    uuids = [profile["PayloadUUID"], payload["PayloadUUID"]]
    assert all(re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", u) for u in uuids)


def test_browser_policy_templates_agree_with_the_extension() -> None:
    policy_dir = PACKAGING / "browser-policy"
    schema = json.loads((PACKAGING / "browser-extension" / "managed-schema.json").read_text(encoding="utf-8"))
    keys = set(schema["properties"])
    linux = json.loads((policy_dir / "linux-chrome-policy.json").read_text(encoding="utf-8"))
    assert linux["ExtensionInstallForcelist"][0].startswith(PLACEHOLDER_ID + ";https://")
    assert set(linux["3rdparty"]["extensions"][PLACEHOLDER_ID]) == keys
    mac = plistlib.loads((policy_dir / "macos-chrome.mobileconfig").read_bytes())
    managed = next(p for p in mac["PayloadContent"] if p["PayloadType"].startswith("com.google.Chrome.extensions."))
    assert managed["PayloadType"] == f"com.google.Chrome.extensions.{PLACEHOLDER_ID}"
    assert keys <= set(managed) and isinstance(managed["port"], int)
    reg = (policy_dir / "windows-policy.reg").read_text(encoding="utf-8")
    assert reg.startswith("Windows Registry Editor Version 5.00")
    assert reg.count(f"3rdparty\\extensions\\{PLACEHOLDER_ID}\\policy]") == 2
    assert f'"port"=dword:{linux["3rdparty"]["extensions"][PLACEHOLDER_ID]["port"]:08x}' in reg
    assert re.fullmatch(r"[a-p]{32}", PLACEHOLDER_ID)
    import xml.etree.ElementTree as ET

    app = ET.parse(policy_dir / "updates.xml").getroot()[0]
    manifest = json.loads((PACKAGING / "browser-extension" / "manifest.json").read_text(encoding="utf-8"))
    assert app.get("appid") == PLACEHOLDER_ID and app[0].get("version") == manifest["version"]


# ---- systemd, desktop entry ------------------------------------------------------------------------------


def _render(template: Path, out: Path, prefix: Path, home: Path) -> Path:
    out.write_text(template.read_text(encoding="utf-8").replace("@PREFIX@", str(prefix))
                   .replace("@AGENT_HOME@", str(home)), encoding="utf-8")
    return out


def _verify_unit(unit: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_agent_user_unit_and_autostart_entry(tmp_path: Path) -> None:
    prefix = tmp_path / "opt"
    (prefix / "bin").mkdir(parents=True)
    session = _render(PACKAGING / "linux" / "seatguard-agent-session", prefix / "bin" / "seatguard-agent-session",
                      prefix, tmp_path / "home")
    session.chmod(0o755)
    unit = _render(PACKAGING / "linux" / "seatguard-agent.service", tmp_path / "seatguard-agent.service",
                   prefix, tmp_path / "home")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    assert parser["Service"]["ExecStart"] == f"{prefix}/bin/seatguard-agent-session"
    assert parser["Install"]["WantedBy"] == "graphical-session.target"
    assert "User" not in parser["Service"], "a user unit runs as the session's user"
    _verify_unit(unit)

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "linux" / "seatguard-agent.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Exec"] == "@PREFIX@/bin/seatguard-agent-session"
    assert desktop["X-systemd-skip"] == "true", "systemd starts the unit; the generator must not start a second"
    if shutil.which("desktop-file-validate"):
        rendered = _render(PACKAGING / "linux" / "seatguard-agent.desktop", tmp_path / "seatguard-agent.desktop",
                           prefix, tmp_path / "home")
        proc = subprocess.run(["desktop-file-validate", str(rendered)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_collector_unit_is_valid_and_hardened(tmp_path: Path) -> None:
    text = (PACKAGING / "collector" / "seatguard-collector.service").read_text(encoding="utf-8")
    unit = tmp_path / "seatguard-collector.service"
    unit.write_text(text.replace("/opt/seatguard/collector/bin/seatguard-collector", str(BIN / "seatguard-collector")),
                    encoding="utf-8")
    for line in ("User=seatguard", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
                 "ExecStart=/opt/seatguard/collector/bin/seatguard-collector serve --data /var/lib/seatguard"):
        assert f"\n{line}\n" in text, line
    for name in re.findall(r"^Environment=SEATGUARD_(\w+)=", text, re.M):
        assert name.lower() in {s.name for s in COLLECTOR_SETTINGS}, name
    _verify_unit(unit)
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=25", str(unit)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, "exposure above 2.5:\n" + proc.stdout[-1500:]


# ---- Docker, compose ---------------------------------------------------------------------------------------


def test_dockerfile_runs_what_the_tests_run() -> None:
    text = (PACKAGING / "collector" / "Dockerfile").read_text(encoding="utf-8")
    instructions = [ln.split(None, 1) for ln in re.sub(r"\\\n", " ", text).splitlines()
                    if ln.strip() and not ln.lstrip().startswith("#")]
    ops = [i[0] for i in instructions]
    assert ops[0] == "FROM" and "python:3.11" in instructions[0][1]
    for op, arg in instructions:
        if op == "COPY":
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    user = [arg for op, arg in instructions if op == "USER"]
    assert user and user[-1].strip() not in ("root", "0")
    assert json.loads(dict((op, arg) for op, arg in instructions)["ENTRYPOINT"]) == ["seatguard-collector"]
    assert json.loads(dict((op, arg) for op, arg in instructions)["CMD"]) == ["serve", "--data", "/data"]
    names = {s.name for s in COLLECTOR_SETTINGS}
    for name in re.findall(r"SEATGUARD_(\w+)=", text):
        assert name.lower() in names, name
    ignore = (PACKAGING / "collector" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert ignore[ignore.index("*") + 1:] and "!contract/" in ignore and "!collector/" in ignore
    assert "!agent/" not in ignore and "!simulator/" not in ignore, "the collector image carries no PC or dev code"


def test_compose_file() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((PACKAGING / "collector" / "compose.yaml").read_text(encoding="utf-8"))
    db, collector = compose["services"]["db"], compose["services"]["collector"]
    assert db["image"].startswith("postgres:")
    build = collector["build"]
    assert (PACKAGING / "collector" / build["context"] / build["dockerfile"]).resolve() == \
        (PACKAGING / "collector" / "Dockerfile").resolve()
    assert collector["depends_on"]["db"]["condition"] == "service_healthy"
    env = collector["environment"]
    url = env["SEATGUARD_DB_URL"]
    assert url.startswith("postgresql://seatguard:") and url.endswith("@db:5432/seatguard")
    names = {s.name for s in COLLECTOR_SETTINGS}
    assert all(k.startswith("SEATGUARD_") and k[10:].lower() in names for k in env)
    assert all(p.startswith("127.0.0.1:") for p in collector["ports"]), "published on loopback, behind the proxy"
    assert "data:/data" in collector["volumes"]


# ---- generated docs ----------------------------------------------------------------------------------------


def test_config_reference_is_up_to_date() -> None:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gen-config-doc.sh"), "--check"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SEATGUARD_BIN": str(BIN)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = (PACKAGING / "CONFIG.md").read_text(encoding="utf-8")
    for setting in (*COLLECTOR_SETTINGS, *AGENT_SETTINGS):
        assert f"| `{setting.name}` |" in config


def test_install_guide_names_every_packaging_file() -> None:
    guide = (PACKAGING / "README.md").read_text(encoding="utf-8")
    for path in ("windows/", "macos/", "linux/", "browser-policy/", "collector/", "CONFIG.md",
                 "seatguard-pppc.mobileconfig", "seatguard-collector.service", "compose.yaml",
                 "scripts/build-agent.sh", "scripts/backup-collector.sh", "scripts/restore-collector.sh"):
        assert path in guide, path
    assert "Accessibility" in guide and "Screen Recording" in guide and "Input Monitoring" in guide
