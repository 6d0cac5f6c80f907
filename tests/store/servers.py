#!/usr/bin/env python3
"""tests/store/servers.py - run a command next to throwaway database servers.

    servers.py [--pg] [--redis] -- COMMAND [ARGS...]

Starts what is asked for, runs COMMAND with these variables set, stops the
servers and removes their files whatever happens (also on SIGTERM from a
meson timeout), and exits with COMMAND's status (77, skipped, when a
server's program is not installed: scripts/setup.d/store.sh installs them).

  HL_TEST_PG_URL      postgresql:// URL of a fresh cluster's "postgres"
                      database (unix socket in a temporary directory, no TCP)
  HL_TEST_PG_STOP     shell command: stop the cluster at once (immediate mode)
  HL_TEST_PG_START    shell command: start it again
  HL_TEST_REDIS_URL   redis://127.0.0.1:PORT (a random free port)
  HL_TEST_REDIS_STOP  shell command: SIGKILL the server
  HL_TEST_REDIS_START shell command: start it again on the same port
  HL_TEST_REDIS_PIDFILE the server's pid file (to SIGSTOP it: a server that hangs)

Nothing touches a system-wide cluster: the PostgreSQL cluster is made by
initdb (as the `postgres` user when run as root: initdb refuses root) in a
temporary directory, with fsync off; Redis keeps nothing on disk.
"""
import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return found[-1]
    return shutil.which(name)


def as_pg_user(cmd):
    """initdb and pg_ctl refuse to run as root: run them as postgres."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class Pg:
    def __init__(self):
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL (initdb, pg_ctl) is not installed")
        self.dir = tempfile.mkdtemp(prefix="hl-pg-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        subprocess.run(as_pg_user([initdb, "-D", data, "-A", "trust", "-U", "hookline",
                                   "-E", "UTF8", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        opts = ("-c listen_addresses='' -c unix_socket_directories='%s' -p %d -c fsync=off "
                "-c full_page_writes=off -c max_connections=60"
                % (self.dir, self.port))
        log = os.path.join(self.dir, "log")
        self.start_cmd = as_pg_user([pg_ctl, "-D", data, "-o", opts, "-l", log, "-w", "start"])
        self.stop_cmd = as_pg_user([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"])
        subprocess.run(self.start_cmd, check=True, stdout=subprocess.DEVNULL)
        self.url = "postgresql:///postgres?host=%s&port=%d&user=hookline" % (self.dir, self.port)

    def env(self):
        return {"HL_TEST_PG_URL": self.url,
                "HL_TEST_PG_STOP": shlex.join(self.stop_cmd) + " >/dev/null 2>&1",
                "HL_TEST_PG_START": shlex.join(self.start_cmd) + " >/dev/null 2>&1"}

    def stop(self):
        subprocess.run(self.stop_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        server = shutil.which("redis-server")
        if not server:
            raise FileNotFoundError("redis-server is not installed")
        self.dir = tempfile.mkdtemp(prefix="hl-redis-")
        self.port = free_port()
        self.pidfile = os.path.join(self.dir, "redis.pid")
        self.start_cmd = [server, "--port", str(self.port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", self.dir,
                          "--daemonize", "yes", "--pidfile", self.pidfile,
                          "--logfile", os.path.join(self.dir, "log")]
        self.start()

    def start(self):
        subprocess.run(self.start_cmd, check=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer on port %d" % self.port)

    def env(self):
        start = " ".join(shlex.quote(a) for a in self.start_cmd)
        # wait until it answers, as start() does
        start += "; for i in $(seq 100); do redis-cli -p %d ping >/dev/null 2>&1 && break; sleep 0.05; done" % self.port
        return {"HL_TEST_REDIS_URL": "redis://127.0.0.1:%d" % self.port,
                "HL_TEST_REDIS_STOP": "kill -9 $(cat %s) 2>/dev/null; sleep 0.2" % shlex.quote(self.pidfile),
                "HL_TEST_REDIS_START": start + " >/dev/null 2>&1",
                "HL_TEST_REDIS_PIDFILE": self.pidfile}

    def stop(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    cut = args.index("--")
    opts, cmd = args[:cut], args[cut + 1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    servers = []
    try:
        try:
            if "--pg" in opts:
                servers.append(Pg())
            if "--redis" in opts:
                servers.append(Redis())
        except FileNotFoundError as e:
            print("servers.py: skipped: %s (scripts/setup.sh installs it)" % e, file=sys.stderr)
            return 77
        env = dict(os.environ)
        for s in servers:
            env.update(s.env())
        return subprocess.run(cmd, env=env).returncode
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
