"""``make run`` starts the shop and its simulators under one supervisor, and Ctrl-C stops them all.

The test runs the real ``make run`` in a temporary folder that links to this checkout's code and
``.venv`` (so ``instance/`` with its database and keys is made there, not in the checkout), on
free loopback ports, then sends SIGINT to make's process group as a terminal's Ctrl-C does.
"""

import io
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
LINKED = ("Makefile", "Procfile.dev", "wsgi.py", "pyproject.toml", "shop", "simulators")
LINKED += ("templates", ".venv")
#: How long init, demo data and both servers may take to come up on a busy machine.
START_DEADLINE = 120.0
STOP_DEADLINE = 30.0

pytestmark = pytest.mark.slow


def checkout_copy(folder: Path) -> Path:
    """Make ``folder`` a checkout that links to this one's code and virtualenv."""
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name)
    return folder


def process_table() -> dict[int, tuple[int, str, str]]:
    """Return pid -> (parent pid, start time, state) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), fields[19], fields[0])
    return table


def descendants(root: int) -> dict[int, str]:
    """Return pid -> start time of every living process below ``root``."""
    table = process_table()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started, state) in table.items():
            if ppid == parent and pid not in found and state != "Z":
                found[pid] = started
                frontier.append(pid)
    return found


def still_alive(processes: dict[int, str]) -> list[int]:
    """Return the pids of ``processes`` that still run (same start time, not a zombie)."""
    table = process_table()
    return [
        pid
        for pid, started in processes.items()
        if pid in table and table[pid][1] == started and table[pid][2] != "Z"
    ]


def command_line(pid: int) -> str:
    """Return a process's command line, or "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def answers(url: str) -> bool:
    """Tell whether ``url`` answers 200."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def listening(port: int) -> bool:
    """Tell whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_make_run(folder: Path, shop_port: int, sim_port: int, **environment):
    """Start ``make run`` in its own process group (a terminal's foreground job)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            (
                "PAYPAL_",
                "ALIPAY_",
                "WECHATPAY_",
                "SMS_",
                "TWILIO_",
                "NETWORK_",
                "DATABASE_",
                "MAKE",
                "SHOP_",
                "RATELIMIT_",
                "JOBS_",
            )
        )
    }
    env.update(environment)
    with (folder / "make-run.log").open("wb") as log:
        return subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run",
                f"PORT={shop_port}",
                f"SIM_PORT={sim_port}",
                # The other simulators on free ports too (tests run beside other shops).
                f"ALIPAY_SIM_PORT={free_port()}",
                f"WECHATPAY_SIM_PORT={free_port()}",
                f"SMS_PORT={free_port()}",
                f"NETWORK_SIM_PORT={free_port()}",
            ],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(condition, make, folder: Path) -> None:
    """Wait for ``condition`` while make runs; fail with make's output if it never holds."""
    deadline = time.monotonic() + START_DEADLINE
    while not condition():
        if make.poll() is not None or time.monotonic() > deadline:
            output = (folder / "make-run.log").read_text(errors="replace")
            pytest.fail(f"make run did not come up (exit {make.poll()}):\n{output[-3000:]}")
        time.sleep(0.25)


def interrupt_and_wait(make) -> None:
    """Press Ctrl-C: SIGINT to make's whole process group; wait until make has exited."""
    os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=STOP_DEADLINE)


def kill_leftovers(make, processes: dict[int, str]) -> None:
    """Kill whatever this test started and is still running (only after a failure)."""
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()
    for pid in still_alive(processes):
        os.kill(pid, signal.SIGKILL)


CSRF_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_of(page: requests.Response) -> str:
    """Return the CSRF token of the first form of a page."""
    return CSRF_TOKEN.search(page.text).group(1)


def a_large_print_job_finishes_and_downloads(base: str) -> None:
    """As the demo admin: generate 310 vouchers, print them, wait for the job, download it."""
    browser = requests.Session()
    login = browser.get(f"{base}/login", timeout=10)
    browser.post(
        f"{base}/login",
        data={"csrf_token": csrf_of(login), "email": "admin@demo.shop", "password": "demo-admin-1"},
        timeout=10,
    )
    batches = browser.get(f"{base}/admin/vouchers", timeout=10)
    assert batches.status_code == 200
    generated = browser.post(
        f"{base}/admin/vouchers/batches",
        data={
            "csrf_token": csrf_of(batches),
            "sku": "ASIA-1GB-7D",
            "count": "310",
            "shelf_life_days": "365",
        },
        timeout=60,
    )
    assert re.search(r"/admin/vouchers/batches/\d+$", generated.url), generated.text[-2000:]
    started = browser.post(
        f"{generated.url}/print",
        data={"csrf_token": csrf_of(generated), "format": "a4"},
        timeout=30,
    )
    assert re.search(r"/admin/print-jobs/\d+$", started.url), started.text[-2000:]
    deadline = time.monotonic() + 120
    while "is ready" not in started.text and time.monotonic() < deadline:
        time.sleep(1)
        started = browser.get(started.url, timeout=10)
    assert "is ready" in started.text, "the job worker did not finish the print job"
    pdf = browser.get(f"{started.url}.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 31  # ten vouchers an A4 sheet


def test_make_run_serves_shop_and_simulator_and_ctrl_c_stops_every_process(tmp_path):
    folder = checkout_copy(tmp_path)
    shop_port, sim_port = free_port(), free_port()
    make = start_make_run(folder, shop_port, sim_port)
    processes: dict[int, str] = {}
    try:
        wait_until(
            lambda: (
                answers(f"http://127.0.0.1:{shop_port}/")
                and answers(f"http://127.0.0.1:{sim_port}/simulator/")
            ),
            make,
            folder,
        )
        processes = descendants(make.pid)
        commands = [command_line(pid) for pid in processes]
        assert any("honcho start" in command for command in commands)
        assert any("flask --app wsgi run" in command for command in commands)
        assert any("-m simulators paypal" in command for command in commands)
        assert any("-m simulators alipay" in command for command in commands)
        assert any("-m simulators wechatpay" in command for command in commands)
        # The shop is pointed at the simulator, and the simulator's webhooks at the shop.
        shop_env = next(
            Path(f"/proc/{pid}/environ").read_bytes()
            for pid, command in zip(processes, commands, strict=True)
            if "flask --app wsgi run" in command
        )
        assert f"PAYPAL_SIMULATOR_URL=http://127.0.0.1:{sim_port}".encode() in shop_env
        assert b"SESSION_COOKIE_SECURE=0" in shop_env
        assert (folder / "instance" / "shop.db").exists()
        assert (folder / "instance" / "simulators" / "paypal-signing-key.pem").exists()
        assert any("jobs worker" in command for command in commands)
        assert any("-m simulators sms" in command for command in commands)
        assert any("-m simulators network" in command for command in commands)
        a_large_print_job_finishes_and_downloads(f"http://127.0.0.1:{shop_port}")

        interrupt_and_wait(make)

        assert still_alive(processes) == []
        assert not listening(shop_port)
        assert not listening(sim_port)
    finally:
        kill_leftovers(make, processes)


def test_providers_in_sandbox_mode_have_no_simulator_and_the_others_keep_theirs(tmp_path):
    folder = checkout_copy(tmp_path)
    shop_port, sim_port = free_port(), free_port()
    make = start_make_run(
        folder,
        shop_port,
        sim_port,
        PAYPAL_MODE="sandbox",
        PAYPAL_CLIENT_ID="sandbox-client",
        PAYPAL_CLIENT_SECRET="sandbox-secret",  # noqa: S106 - never sent anywhere
        PAYPAL_WEBHOOK_ID="WH-SANDBOX",
        SMS_MODE="sandbox",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="sandbox-token",  # noqa: S106 - never sent anywhere
        SMS_SENDER="+15005550006",
    )
    processes: dict[int, str] = {}
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{shop_port}/"), make, folder)
        processes = descendants(make.pid)
        # Each provider's mode decides for its own simulator: Alipay's stays in simulator mode.
        commands = [command_line(pid) for pid in processes]
        assert not any("simulators paypal" in command for command in commands)
        assert not any("simulators sms" in command for command in commands)
        assert any("simulators alipay" in command for command in commands)
        assert any("jobs worker" in command for command in commands)
        assert not listening(sim_port)

        interrupt_and_wait(make)

        assert still_alive(processes) == []
        assert not listening(shop_port)
    finally:
        kill_leftovers(make, processes)
