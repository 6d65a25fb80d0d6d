#!/usr/bin/env python3
"""scripts/lib/fault_driver.py — the fault scenarios of scripts/fault.sh, against a real scimd.

Run by scripts/fault.sh, which builds scimd, starts a throwaway PostgreSQL cluster and passes
its whereabouts here. Python 3 standard library only. Scenarios:

  postgres-stop  N clients GET and POST while PostgreSQL is stopped (-m immediate) and started
                 again. Every answer while it is down must be 503 with a SCIM Error saying the
                 database is unavailable, within the request timeout; scimd must stay up and
                 answer 2xx again by itself, without a restart. Prints the recovery time.
  kill9          K writers POST users and PATCH them into one group; scimd gets SIGKILL mid
                 stream and is started again on the same database. Every write that was
                 acknowledged (2xx) must be there. Run for PostgreSQL and for SQLite.

Exit status 0 when every assertion holds, 1 otherwise. The last lines printed are the figures
block ("fault figures:"), meant for RELIABILITY.md.
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATH = "/v1/tenants/default/realms/default/scim/v2"
# Words of an internal error that must never reach a client.
LEAKY = ("sqlx", "pool", "io error", "connection refused", "os error", "postgres", "sqlite",
         "panicked", "backtrace", "tcp")

FAILURES = {}  # message -> [count, first example]
FIGURES = []
SERVERS = []


def say(msg):
    print(f"[fault] {msg}", flush=True)


def fail(msg, example=None):
    """Records a failed assertion; the same message again only counts (with its first example)."""
    if msg not in FAILURES:
        FAILURES[msg] = [0, example]
        print(f"[fault] FAIL: {msg}" + (f" (e.g. {example})" if example else ""), flush=True)
    FAILURES[msg][0] += 1


def figure(line):
    FIGURES.append(line)
    say(line)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- scimd process --------------------------------------------------------------------------

class Scimd:
    """One `scimd serve` process on a free port, over `db_url`."""

    def __init__(self, args, db_url, workdir, name, request_timeout):
        self.args = args
        self.db_url = db_url
        self.workdir = workdir
        self.name = name
        self.request_timeout = request_timeout
        self.port = None
        self.proc = None
        self.starts = 0

    def env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("SCIMD_"):
                del env[k]
        env.update(getattr(self, "extra_env", {}))
        env.update({
            "SCIMD_DATABASE_URL": self.db_url,
            "SCIMD_LISTEN": f"127.0.0.1:{self.port or 0}",
            "SCIMD_RATE_LIMIT_TOKEN_PER_SECOND": "0",
            "SCIMD_RATE_LIMIT_REALM_PER_SECOND": "0",
            "SCIMD_METRICS_LISTEN": "127.0.0.1:0",
            "SCIMD_REQUEST_TIMEOUT_SECONDS": str(self.request_timeout),
            "SCIMD_LOG_FORMAT": "json",
            # Warnings and errors only: the logs are shown when the run fails.
            "SCIMD_LOG_LEVEL": "warn",
        })
        return env

    def create_token(self):
        out = subprocess.run(
            [self.args.bin, "token", "create", "--tenant", "default", "--realm", "default",
             "--name", f"fault-{self.name}", "--expires-in-days", "1"],
            cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"scimd token create failed: {out.stderr}")
        lines = [l for l in out.stdout.splitlines() if l.strip()]
        if len(lines) != 1:
            raise SystemExit(f"scimd token create printed {len(lines)} lines, expected 1")
        return lines[0].strip()

    def create_admin_token(self):
        out = subprocess.run(
            [self.args.bin, "admin-token", "create", "--name", f"fault-{self.name}",
             "--expires-in-days", "1"],
            cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"scimd admin-token create failed: {out.stderr}")
        return [l for l in out.stdout.splitlines() if l.strip()][-1].strip()

    def start(self):
        if self.port is None:
            self.port = free_port()
        self.starts += 1
        log = open(os.path.join(self.workdir, f"scimd-{self.name}-{self.starts}.log"), "wb")
        self.proc = subprocess.Popen([self.args.bin, "serve"], cwd=self.workdir, env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        SERVERS.append(self)
        # For scripts/fault.sh's cleanup, should this driver itself be killed.
        with open(os.path.join(self.workdir, "scimd.pids"), "a") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"scimd ({self.name}) exited with {self.proc.returncode} "
                                 f"before it was ready; see {log.name}")
            try:
                status, _, _ = request(self.port, "GET", "/readyz", None, None, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"scimd ({self.name}) not ready within 60 s")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if not self.alive():
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- HTTP -----------------------------------------------------------------------------------

def request(port, method, path, token, body, timeout, conn=None):
    """(status, headers, parsed body or raw text). Raises OSError on transport failures."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Accept": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/scim+json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        if own:
            conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, hdrs, parsed


class Client:
    """A keep-alive connection that reconnects after a transport failure."""

    def __init__(self, port, token, timeout):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = None

    def call(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            return request(self.port, method, path, self.token, body, self.timeout, self.conn)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()


def scim_error_problem(status, body, want_status):
    """What is wrong with an error answer, or None when it is a proper SCIM Error."""
    if not isinstance(body, dict):
        return f"body is not JSON: {str(body)[:120]!r}"
    if body.get("schemas") != [SCIM_ERROR]:
        return f"schemas is {body.get('schemas')!r}"
    if str(body.get("status")) != str(want_status):
        return f"status member is {body.get('status')!r}"
    detail = body.get("detail")
    if not isinstance(detail, str) or not detail:
        return "no detail"
    return None


def user_body(name):
    return {"schemas": [USER_SCHEMA], "userName": name, "active": True,
            "name": {"givenName": "Fault", "familyName": name}}


def members_add(user_id):
    return {"schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}


def pg_ctl(args, action):
    """Runs pg_ctl on the script's cluster (as postgres when we are root). `stop` waits until
    the server is gone; `start` only launches it (see pg_accepting)."""
    cmd = [os.path.join(args.pg_bindir, "pg_ctl"), "-D", os.path.join(args.pg_dir, "data")]
    if action == "stop":
        cmd += ["-w", "-m", "immediate", "stop"]
    else:
        cmd += ["-W", "-l", os.path.join(args.pg_dir, "log"), "start", "-o",
                f"-p {args.pg_port} -k '{args.pg_dir}' -c listen_addresses=127.0.0.1"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, cwd=args.pg_dir, check=True, stdout=subprocess.DEVNULL, timeout=60)


def pg_accepting(port):
    """Whether PostgreSQL accepts a session now: a v3 startup message answered with an
    authentication message ('R'; the cluster trusts local users), not an error such as 57P03
    "the database system is starting up". pg_ctl -w polls only every 100 ms; this is sharper."""
    params = b"user\0postgres\0database\0postgres\0\0"
    msg = (8 + len(params)).to_bytes(4, "big") + (196608).to_bytes(4, "big") + params
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1) as s:
            s.sendall(msg)
            first = s.recv(1)
            if first == b"R":
                s.sendall(b"X\0\0\0\4")  # Terminate
                return True
            return False
    except OSError:
        return False


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# --- scenario: PostgreSQL stopped under load --------------------------------------------------

def scenario_postgres_stop(args, workdir):
    say("scenario postgres-stop: PostgreSQL stopped (-m immediate) under load, then started")
    timeout = args.request_timeout
    srv = Scimd(args, args.pg_url_stop, workdir, "pg-stop", timeout)
    token = srv.create_token()
    srv.start()
    seed = Client(srv.port, token, 10)
    ids = []
    for i in range(20):
        st, _, b = seed.call("POST", f"{SCIM_PATH}/Users", user_body(f"seed-{i}@fault.test"))
        if st != 201:
            raise SystemExit(f"seeding users failed: {st} {b}")
        ids.append(b["id"])
    seed.close()

    # Every answer: (start, end, method, status or transport error, problem with the body).
    log = []
    log_lock = threading.Lock()
    stop = threading.Event()
    # Clients wait this long before calling an answer a hang: the timeout plus slack.
    hang_after = timeout + args.slack

    def worker(n):
        c = Client(srv.port, token, hang_after + 5)
        rnd = random.Random(n)
        i = 0
        while not stop.is_set():
            i += 1
            kind = rnd.choice(("get", "get", "list", "post"))
            if kind == "get":
                m, path, body = "GET", f"{SCIM_PATH}/Users/{rnd.choice(ids)}", None
            elif kind == "list":
                m, path, body = "GET", f"{SCIM_PATH}/Users?count=5", None
            else:
                m, path, body = ("POST", f"{SCIM_PATH}/Users",
                                 user_body(f"load-{n}-{i}-{uuid.uuid4().hex[:6]}@fault.test"))
            t0 = time.monotonic()
            try:
                st, hdrs, b = c.call(m, path, body)
                outcome = st
            except (OSError, http.client.HTTPException) as e:
                st, hdrs, b, outcome = None, {}, None, f"transport:{type(e).__name__}"
            t1 = time.monotonic()
            with log_lock:
                log.append((t0, t1, m, outcome, b, hdrs))
            if st is None:
                time.sleep(0.05)
        c.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True)
               for n in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(3)

    t_stop_begin = time.monotonic()
    pg_ctl(args, "stop")
    t_down = time.monotonic()
    say(f"PostgreSQL stopped ({(t_down - t_stop_begin) * 1000:.0f} ms); holding it down for "
        f"{args.down_seconds} s")
    time.sleep(args.down_seconds / 2)
    # While it is down: the process is alive, liveness holds, readiness says no.
    if not srv.alive():
        fail("scimd exited while PostgreSQL was down")
    try:
        st, _, _ = request(srv.port, "GET", "/healthz", None, None, timeout=5)
        if st != 200:
            fail(f"/healthz answered {st} while PostgreSQL was down (want 200: the process is up)")
        st, _, _ = request(srv.port, "GET", "/readyz", None, None, timeout=hang_after)
        if st != 503:
            fail(f"/readyz answered {st} while PostgreSQL was down (want 503)")
    except OSError as e:
        fail(f"health endpoints did not answer while PostgreSQL was down: {e}")
    time.sleep(args.down_seconds / 2)

    t_start_begin = time.monotonic()
    pg_ctl(args, "start")
    while not pg_accepting(args.pg_port):
        if time.monotonic() - t_start_begin > 60:
            raise SystemExit("PostgreSQL did not accept connections within 60 s of its start")
        time.sleep(0.005)
    t_up = time.monotonic()
    say(f"PostgreSQL accepting connections again ({(t_up - t_start_begin) * 1000:.0f} ms after "
        f"pg_ctl start)")

    # Load continues until scimd answers 2xx again and a few seconds more.
    deadline = t_up + args.recover_bound
    first_ok = None
    while time.monotonic() < deadline:
        with log_lock:
            oks = [e[1] for e in log
                   if e[1] >= t_start_begin and isinstance(e[3], int) and e[3] < 300]
        if oks:
            first_ok = min(oks)
            break
        time.sleep(0.02)
    if first_ok is not None:
        time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=hang_after + 10)
    if any(t.is_alive() for t in threads):
        fail("a client thread is still waiting for an answer: a request hangs")
    alive = srv.alive()
    if not alive:
        fail("scimd is not running at the end of the scenario")
    srv.stop()

    # --- judgement ---
    statuses = collections.Counter(str(e[3]) for e in log)
    down = [e for e in log if e[0] >= t_down and e[1] <= t_start_begin]
    down_lat = [e[1] - e[0] for e in down]
    for (t0, t1, m, outcome, b, hdrs) in down:
        if outcome != 503:
            fail(f"{m} while PostgreSQL was down answered {outcome} (want 503)", str(b)[:200])
            continue
        problem = scim_error_problem(503, b, 503)
        if problem:
            fail(f"{m} 503 while down is not a proper SCIM Error", problem)
            continue
        detail = b["detail"].lower()
        if "database" not in detail or "unavailable" not in detail:
            fail(f"{m} 503 detail does not say the database is unavailable", repr(b["detail"]))
        if any(w in detail for w in LEAKY):
            fail(f"{m} 503 detail leaks internal error text", repr(b["detail"]))
        if "retry-after" not in hdrs:
            fail(f"{m} 503 while down has no Retry-After header")
        if t1 - t0 > timeout + args.slack:
            fail(f"{m} while down took longer than the request timeout {timeout} s + "
                 f"{args.slack} s", f"{t1 - t0:.2f} s")
    # Around the edges (in flight when it stopped, or while it was starting) anything but a
    # 503 or a success is wrong too: no 500, no dropped connection, no hang.
    for (t0, t1, m, outcome, b, hdrs) in log:
        at = f"t={t0 - t_stop_begin:+.2f} s from the stop"
        if not isinstance(outcome, int):
            fail(f"{m} got no HTTP answer ({outcome})", at)
        elif outcome >= 300 and outcome != 503:
            fail(f"{m} answered {outcome} (want 2xx or 503)", f"{at}: {str(b)[:200]}")
        elif t1 - t0 > timeout + args.slack:
            fail(f"{m} took longer than the request timeout + slack", f"{t1 - t0:.2f} s, {at}")
    if len(down) < 20:
        fail(f"only {len(down)} requests were answered while PostgreSQL was down: too few to judge")
    after = [e for e in log if first_ok is not None and e[0] >= first_ok + 1.0]
    late_errors = [e for e in after if e[3] != 201 and e[3] != 200]
    if first_ok is None:
        fail(f"scimd did not answer 2xx within {args.recover_bound} s of PostgreSQL's return")
    elif late_errors:
        fail(f"{len(late_errors)} of {len(after)} requests failed more than 1 s after recovery, "
             f"e.g. {late_errors[0][3]}")
    recovery = (first_ok - t_up) if first_ok is not None else None

    figure(f"postgres-stop: {len(log)} requests by {args.clients} clients "
           f"(GET by id, GET list, POST); statuses {dict(sorted(statuses.items()))}")
    figure(f"postgres-stop: {len(down)} answered while PostgreSQL was down "
           f"({args.down_seconds} s): {dict(collections.Counter(str(e[3]) for e in down))}; "
           f"latency p50 {pct(down_lat, 50) * 1000:.1f} ms, p99 {pct(down_lat, 99) * 1000:.1f} ms, "
           f"max {max(down_lat, default=0) * 1000:.1f} ms (request timeout {timeout} s)")
    if recovery is not None:
        # scimd retries on every request, so it can beat the 5 ms probe by a hair.
        shown = (f"{recovery * 1000:.0f} ms" if recovery >= 0.005
                 else "within 5 ms (the probe's resolution)")
        figure(f"postgres-stop: first 2xx {shown} after PostgreSQL accepted "
               f"connections again (bound {args.recover_bound} s), no scimd restart; "
               f"{len(after) - len(late_errors)}/{len(after)} ok from 1 s after that")
    figure(f"postgres-stop: scimd alive throughout: {alive}")


# --- scenario: kill -9 under concurrent writers ----------------------------------------------

def scenario_kill9(args, workdir, backend, db_url):
    say(f"scenario kill9 ({backend}): SIGKILL under {args.writers} concurrent writers")
    srv = Scimd(args, db_url, workdir, f"kill9-{backend}", args.request_timeout)
    token = srv.create_token()
    srv.start()
    c = Client(srv.port, token, 10)
    st, _, g = c.call("POST", f"{SCIM_PATH}/Groups",
                      {"schemas": [GROUP_SCHEMA], "displayName": f"fault-{backend}"})
    c.close()
    if st != 201:
        raise SystemExit(f"creating the group failed: {st} {g}")
    gid = g["id"]

    acked_users = {}      # id -> userName
    acked_members = set()  # user ids whose PATCH add was acknowledged
    tried = collections.Counter()
    statuses = collections.Counter()
    bad = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        cl = Client(srv.port, token, 15)
        i = 0
        while not stop.is_set():
            i += 1
            name = f"k9-{backend}-{n}-{i}@fault.test"
            try:
                with lock:
                    tried["POST /Users"] += 1
                st, _, b = cl.call("POST", f"{SCIM_PATH}/Users", user_body(name))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    statuses[f"POST:{type(e).__name__}"] += 1
                time.sleep(0.05)
                continue
            with lock:
                statuses[f"POST:{st}"] += 1
                if st == 201:
                    acked_users[b["id"]] = name
                else:
                    bad.append(("POST", st, b))
            if st != 201:
                continue
            try:
                with lock:
                    tried["PATCH /Groups"] += 1
                st, _, pb = cl.call("PATCH", f"{SCIM_PATH}/Groups/{gid}", members_add(b["id"]))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    statuses[f"PATCH:{type(e).__name__}"] += 1
                continue
            with lock:
                statuses[f"PATCH:{st}"] += 1
                if st in (200, 204):
                    acked_members.add(b["id"])
                else:
                    bad.append(("PATCH", st, pb))
        cl.close()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True)
               for n in range(args.writers)]
    for t in threads:
        t.start()
    time.sleep(args.kill_after)
    with lock:
        before = len(acked_users)
    srv.kill9()
    t_kill = time.monotonic()
    say(f"SIGKILL sent to scimd with {before} users acknowledged")
    # Writers keep trying against the dead port for a moment: those attempts must fail.
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=20)
    if any(t.is_alive() for t in threads):
        fail(f"kill9 ({backend}): a writer is still waiting after the kill")
    for (m, st, b) in bad:
        fail(f"kill9 ({backend}): {m} answered {st} before the kill", str(b)[:200])

    srv.start()  # same port, same database, same token
    restart_s = time.monotonic() - t_kill
    c = Client(srv.port, token, 15)
    missing, wrong = [], []
    for uid, name in sorted(acked_users.items()):
        st, _, b = c.call("GET", f"{SCIM_PATH}/Users/{uid}")
        if st != 200:
            missing.append((uid, st))
        elif b.get("userName") != name:
            wrong.append((uid, b.get("userName"), name))
    st, _, gb = c.call("GET", f"{SCIM_PATH}/Groups/{gid}?attributes=members")
    members = {m["value"] for m in (gb or {}).get("members", [])} if st == 200 else set()
    if st != 200:
        fail(f"kill9 ({backend}): GET of the group after restart answered {st}")
    lost_members = sorted(acked_members - members)
    c.close()
    srv.stop()

    if missing:
        fail(f"kill9 ({backend}): {len(missing)} acknowledged users missing after restart, "
             f"e.g. {missing[:3]}")
    if wrong:
        fail(f"kill9 ({backend}): {len(wrong)} users came back with another userName: {wrong[:3]}")
    if lost_members:
        fail(f"kill9 ({backend}): {len(lost_members)} acknowledged membership adds missing, "
             f"e.g. {lost_members[:3]}")
    if len(acked_users) < 20:
        fail(f"kill9 ({backend}): only {len(acked_users)} writes acknowledged: too few to judge")
    figure(f"kill9 {backend}: {sum(tried.values())} requests tried by {args.writers} writers "
           f"({dict(tried)}); statuses {dict(sorted(statuses.items()))}")
    figure(f"kill9 {backend}: users acknowledged {len(acked_users)}, found after restart "
           f"{len(acked_users) - len(missing) - len(wrong)}; membership adds acknowledged "
           f"{len(acked_members)}, found {len(acked_members) - len(lost_members)}; group has "
           f"{len(members)} members (unacknowledged writes may land or not); restart to ready "
           f"{restart_s:.1f} s")


# --- scenario: kill -9 in the middle of a webhook delivery ---------------------------------

class HookReceiver:
    """A webhook receiver on 127.0.0.1: records (webhook-id, body) of every request; while
    `hold` is set it keeps the first request waiting (the sender is killed meanwhile)."""

    def __init__(self):
        import http.server
        outer = self
        self.seen = []
        self.lock = threading.Lock()
        self.first_arrived = threading.Event()
        self.hold = threading.Event()
        self.hold.set()

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with outer.lock:
                    outer.seen.append((self.headers.get("webhook-id"), json.loads(body)))
                outer.first_arrived.set()
                if outer.hold.is_set():
                    # The sender dies while this request waits; answering afterwards
                    # reaches nobody.
                    time.sleep(4)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return [i for i, _ in self.seen]


def scenario_webhook_kill9(args, workdir, backend, db_url):
    say(f"scenario webhook-kill9 ({backend}): SIGKILL while a webhook delivery is in flight")
    rx = HookReceiver()
    srv = Scimd(args, db_url, workdir, f"hook-{backend}", args.request_timeout)
    srv.extra_env = {
        "SCIMD_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "SCIMD_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1",
        "SCIMD_WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    token = srv.create_token()
    admin = srv.create_admin_token()
    srv.start()
    c = Client(srv.port, admin, 10)
    st, _, hook = c.call("POST", "/v1/tenants/default/realms/default/webhooks", {"url": rx.url})
    if st != 201:
        raise SystemExit(f"creating the webhook failed: {st} {hook}")
    c.close()
    c = Client(srv.port, token, 10)
    users = []
    for i in range(5):
        st, _, b = c.call("POST", f"{SCIM_PATH}/Users", user_body(f"hook-{backend}-{i}@fault.test"))
        if st != 201:
            raise SystemExit(f"creating a user failed: {st} {b}")
        users.append(b["id"])
    c.close()
    if not rx.first_arrived.wait(20):
        fail(f"webhook-kill9 ({backend}): no delivery arrived within 20 s")
        srv.stop()
        return
    srv.kill9()
    t_kill = time.monotonic()
    held = rx.ids()[0]
    rx.hold.clear()
    srv.start()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with rx.lock:
            got = [b["data"]["resource_id"] for _, b in rx.seen]
        # The held event arrives twice (its first answer went to a dead server).
        if len(got) >= 6 and all(u in got for u in users):
            break
        time.sleep(0.2)
    took = time.monotonic() - t_kill
    srv.stop()
    with rx.lock:
        seen = list(rx.seen)
    got = [b["data"]["resource_id"] for _, b in seen]
    missing = [u for u in users if u not in got]
    if missing:
        fail(f"webhook-kill9 ({backend}): {len(missing)} of 5 events never delivered after "
             f"the restart", str(got))
    if [i for i, _ in seen].count(held) < 2:
        fail(f"webhook-kill9 ({backend}): the delivery cut off by the kill was not sent again",
             str([i for i, _ in seen]))
    # In order: the first occurrence of each user follows the log.
    firsts = []
    for u in got:
        if u not in firsts:
            firsts.append(u)
    if firsts != users:
        fail(f"webhook-kill9 ({backend}): events not delivered in order", str(firsts))
    figure(f"webhook-kill9 {backend}: {len(seen)} requests for 5 events; the held one sent again "
           f"and all delivered {took:.1f} s after the kill (lease of a dead server runs out "
           f"after 2 x timeout + 5 s)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--pg-bindir", required=True)
    p.add_argument("--pg-dir", required=True)
    p.add_argument("--pg-port", required=True)
    p.add_argument("--pg-url-stop", required=True, help="database for postgres-stop")
    p.add_argument("--pg-url-kill", required=True, help="database for kill9 on PostgreSQL")
    p.add_argument("--pg-url-hook", required=True, help="database for webhook-kill9")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--request-timeout", type=int, default=5)
    p.add_argument("--slack", type=float, default=1.0)
    p.add_argument("--down-seconds", type=float, default=6)
    p.add_argument("--recover-bound", type=float, default=30)
    p.add_argument("--kill-after", type=float, default=4)
    p.add_argument("--only", choices=("postgres-stop", "kill9", "webhook-kill9"), default=None)
    args = p.parse_args()

    t0 = time.monotonic()
    try:
        if args.only in (None, "postgres-stop"):
            scenario_postgres_stop(args, args.workdir)
        if args.only in (None, "kill9"):
            scenario_kill9(args, args.workdir, "postgres", args.pg_url_kill)
            sqlite_url = f"sqlite://{os.path.join(args.workdir, 'kill9.db')}?mode=rwc"
            scenario_kill9(args, args.workdir, "sqlite", sqlite_url)
        if args.only in (None, "webhook-kill9"):
            scenario_webhook_kill9(args, args.workdir, "postgres", args.pg_url_hook)
            hook_url = f"sqlite://{os.path.join(args.workdir, 'hook.db')}?mode=rwc"
            scenario_webhook_kill9(args, args.workdir, "sqlite", hook_url)
    finally:
        for srv in SERVERS:
            srv.stop()

    print("\nfault figures:")
    for line in FIGURES:
        print(f"  {line}")
    print(f"  scenarios took {time.monotonic() - t0:.0f} s")
    if FAILURES:
        print(f"\nfault: {len(FAILURES)} kind(s) of assertion failed:")
        for msg, (n, example) in FAILURES.items():
            print(f"  - {msg}" + (f" [{n} times]" if n > 1 else "")
                  + (f" (e.g. {example})" if example else ""))
        return 1
    print("\nfault: every assertion held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
