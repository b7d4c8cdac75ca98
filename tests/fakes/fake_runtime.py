"""An OCI runtime stand-in without namespaces, for tests that run without root.

Speaks runc's command line for the verbs the shim uses: create (fork a child that waits on a fifo,
then execs process.args on the host), start, state, kill, delete, ps, pause, resume; errors go to
stderr and to --log as JSON lines, as runc does. FAKE_RUNTIME_FAIL=<verb> makes that verb fail.
"""

import json
import os
import shutil
import signal
import sys
import time


def fail(log: str, message: str) -> None:
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"level": "error", "msg": message, "time": "now"}) + "\n")
    sys.stderr.write(f'level=error msg="{message}"\n')
    sys.exit(1)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def main(argv: list[str]) -> None:
    root, log = "/tmp/fake-runtime", ""
    while argv and argv[0].startswith("--"):
        flag = argv.pop(0)
        if flag in ("--root", "--log", "--log-format"):
            value = argv.pop(0)
            root = value if flag == "--root" else root
            log = value if flag == "--log" else log
    verb, args = argv[0], argv[1:]
    if os.environ.get("FAKE_RUNTIME_FAIL") == verb:
        fail(log, f"injected failure in {verb}")
    opts: dict[str, str] = {}
    flags: set[str] = set()
    rest: list[str] = []
    while args:
        a = args.pop(0)
        if a in ("--bundle", "--pid-file", "--console-socket", "--format", "--process"):
            opts[a] = args.pop(0)
        elif a.startswith("--"):
            flags.add(a)
        else:
            rest.append(a)
    cid = rest[0] if rest else ""
    cdir = os.path.join(root, cid)
    state_path = os.path.join(cdir, "state.json")
    state = {}
    if verb not in {"create", "list"}:
        if not os.path.exists(state_path):
            if verb == "delete" and "--force" in flags:
                return
            fail(log, "container does not exist")
        with open(state_path) as f:
            state = json.load(f)
        if state["status"] != "created" and not alive(state["pid"]):
            state["status"] = "stopped"
    if verb == "create":
        if os.path.exists(cdir):
            fail(log, "container with given ID already exists")
        with open(os.path.join(opts["--bundle"], "config.json")) as f:
            spec = json.load(f)
        cmd = spec["process"]["args"]
        if shutil.which(cmd[0]) is None:
            fail(log, f'exec: "{cmd[0]}": executable file not found in $PATH')
        os.makedirs(cdir)
        fifo = os.path.join(cdir, "exec.fifo")
        os.mkfifo(fifo)
        pid = os.fork()
        if pid == 0:
            fd = os.open(fifo, os.O_RDONLY)
            os.read(fd, 1)
            os.close(fd)
            os.execvp(cmd[0], cmd)
        state = {"id": cid, "pid": pid, "status": "created", "bundle": opts["--bundle"]}
        if "--pid-file" in opts:
            with open(opts["--pid-file"], "w") as f:
                f.write(str(pid))
    elif verb == "start":
        if state["status"] != "created":
            fail(log, f"cannot start a container that is {state['status']}")
        fd = os.open(os.path.join(cdir, "exec.fifo"), os.O_WRONLY)
        os.write(fd, b"1")
        os.close(fd)
        state["status"] = "running"
    elif verb == "state":
        if state["status"] == "stopped":
            state["pid"] = 0
        print(json.dumps(state))
        return
    elif verb == "kill":
        if state["status"] == "stopped":
            fail(log, "container not running")
        sig = rest[1] if len(rest) > 1 else "15"
        os.kill(state["pid"], int(sig) if sig.isdigit() else signal.Signals["SIG" + sig].value)
        return
    elif verb in ("pause", "resume"):
        os.kill(state["pid"], signal.SIGSTOP if verb == "pause" else signal.SIGCONT)
        state["status"] = "paused" if verb == "pause" else "running"
    elif verb == "ps":
        print(json.dumps([state["pid"]] if state["status"] != "stopped" else []))
        return
    elif verb == "delete":
        if state["status"] in ("running", "paused") or state["status"] == "created":
            if "--force" not in flags and state["status"] != "created":
                fail(log, f"cannot delete container {cid} that is not stopped: {state['status']}")
            os.kill(state["pid"], signal.SIGKILL)
            deadline = time.monotonic() + 5
            while alive(state["pid"]) and time.monotonic() < deadline:
                time.sleep(0.01)
        shutil.rmtree(cdir)
        return
    else:
        fail(log, f"fake runtime: unsupported verb {verb}")
    with open(state_path, "w") as f:
        json.dump(state, f)


if __name__ == "__main__":
    main(sys.argv[1:])
