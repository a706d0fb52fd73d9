"""Confinement of user code: a model (or a project file being inspected at
plan time) runs where it cannot open the lakehouse, cannot write outside
its scratch folder, has no network unless it asks for it, and cannot
outlive its task.

Everything here runs in freshly forked, single-threaded processes, before
any user code. ``supervise()`` is the whole of it::

    W  (forked by the caller)   unshares namespaces, then supervises: waits
    |                           for the task under its time limit, kills
    |                           whatever the task left behind, reports how
    |                           it ended, removes the scratch folder
    +- I  (pid 1 of a new pid namespace, when there is one)
       |                        hides the lakehouse (mounts), reaps orphans;
       |                        when it exits the kernel kills every process
       |                        of the namespace: no daemon survives a task
       +- M                     drops capabilities, Landlock, seccomp, CPU
                                affinity, then runs the body (user code)

Layers, each used when the kernel offers it (detected at run time, in the
process that is about to apply it):

namespaces  user, mount, pid, ipc and (unless the task has internet access)
            network. The lakehouse folder is covered by an empty read-only
            tmpfs; the entries a task may read inside it (its environment's
            packages, the bytecode cache, a project folder) are bound back
            read-only. /proc is the pid namespace's own; /dev/shm is private.
Landlock    reads anywhere but the lakehouse (hidden by the mount above, or,
            without namespaces, excluded rule by rule; then its file names
            stay listable, never openable); writes only in the scratch
            folder, /dev/shm and /dev/null; no TCP, no signals and no
            abstract Unix sockets outside the sandbox.
seccomp     without internet access no socket() at all (socketpair stays,
            for pipes between the task's own processes); never io_uring or
            another ABI's system calls.
capabilities  all dropped, and no_new_privs: nothing regains them.

Policy (a dict, from the runtime): ``{"mode": "auto"|"off", "hide": [dir],
"read": [path], "internet": bool}``. ``auto`` refuses to run a task when
neither namespaces nor Landlock can hide the lakehouse (``off`` runs it
unconfined: for kernels without either, after reading docs/models.md).

TARN_CONFINE_WITHOUT=landlock,namespaces,seccomp pretends the kernel lacks
those layers: the tests use it to check each degraded mode.
"""
import ctypes
import errno
import os
import platform
import shutil
import signal
import struct
import sys
import tempfile
import time

__all__ = ["supervise", "limit_memory", "Refused", "available", "make_scratch", "remove_scratch",
           "remove_stale_scratch"]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# unshare(2)
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
# mount(2)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# prctl(2)
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 24, 28
PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT = 38, 36, 47
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# Landlock (the syscall numbers are the same on every architecture)
_LL_CREATE, _LL_ADD, _LL_RESTRICT = 444, 445, 446
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1, 2, 4, 8
LL_REMOVE_DIR, LL_REMOVE_FILE, LL_MAKE_CHAR, LL_MAKE_DIR = 16, 32, 64, 128
LL_MAKE_REG, LL_MAKE_SOCK, LL_MAKE_FIFO, LL_MAKE_BLOCK = 256, 512, 1024, 2048
LL_MAKE_SYM, LL_REFER, LL_TRUNCATE = 4096, 8192, 16384
LL_NET_BIND_TCP, LL_NET_CONNECT_TCP = 1, 2
LL_SCOPE_ABSTRACT_UNIX, LL_SCOPE_SIGNAL = 1, 2
LL_READ = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
LL_FILE_ONLY = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE


class Refused(Exception):
    """The task cannot be confined as its policy requires; the message says
    why and what to do."""


def _without():
    return {w.strip() for w in os.environ.get("TARN_CONFINE_WITHOUT", "").split(",") if w.strip()}


def _errno_error(what):
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


def _prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(arg4),
                       ctypes.c_ulong(arg5))


def landlock_abi():
    """The kernel's Landlock ABI version, 0 when it has none."""
    if "landlock" in _without():
        return 0
    r = _libc.syscall(ctypes.c_long(_LL_CREATE), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(r) if r > 0 else 0


def _seccomp_arch():
    """(AUDIT_ARCH, socket nr, socketpair nr) for the architectures whose
    system call numbers this module knows; None elsewhere."""
    if "seccomp" in _without():
        return None
    return {"x86_64": (0xC000003E, 41, 53), "aarch64": (0xC00000B7, 198, 199)}.get(
        platform.machine())


def available():
    """What this kernel offers (namespaces are only known by trying them)."""
    return {"landlock": landlock_abi(), "seccomp": _seccomp_arch() is not None,
            "namespaces": "namespaces" not in _without()}


# ---- small helpers ------------------------------------------------------------

def _is_under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _set_pdeathsig():
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _close_fds(keep):
    """Closes every descriptor but KEEP: nothing open in the parent (least of
    all a file of the lakehouse) reaches user code."""
    keep = sorted(set(keep))
    lo = 0
    for k in keep + [1 << 20]:
        if k > lo:
            os.closerange(lo, min(k, 1 << 20))
        lo = k + 1


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


# ---- namespaces -----------------------------------------------------------------

def _unshare(internet):
    """Enters new namespaces in this (single-threaded) process; returns the
    flags that took effect, 0 when none could."""
    if "namespaces" in _without():
        return 0
    base = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | (0 if internet else CLONE_NEWNET)
    uid, gid = os.geteuid(), os.getegid()
    if _libc.unshare(CLONE_NEWUSER | base) == 0:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", "%d %d 1" % (uid, uid))
            _write("/proc/self/gid_map", "%d %d 1" % (gid, gid))
        except OSError:
            return 0  # no identity in the namespace: treat as none (mounts would fail)
        return CLONE_NEWUSER | base
    # Root without user namespaces (disabled by a sysctl) can still have
    # the others; capabilities are dropped before user code runs.
    if os.geteuid() == 0 and _libc.unshare(base) == 0:
        return base
    return 0


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    if _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        raise _errno_error("mount %s" % target)


def _locked_flags(path):
    """Mount flags a less privileged namespace must keep on a remount."""
    f = os.statvfs(path).f_flag
    out = f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    if f & 4096:  # ST_RELATIME
        out |= MS_RELATIME
    return out


def _mount_view(hidden, readable):
    """The task's view of the file system, in its own mount and pid
    namespaces: its own /proc; each HIDDEN folder covered by an empty
    read-only tmpfs, with the READABLE paths inside it bound back read-only;
    a private /dev/shm. Nothing propagates back to the host."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # a /proc partly covered by the host refuses; Landlock still guards it
    for h in hidden:
        if not os.path.isdir(h):
            continue
        inside = [p for p in readable if _is_under(p, h) and p != h and os.path.exists(p)]
        # Opened before the cover goes on: afterwards they are out of reach.
        fds = [(p, os.open(p, os.O_PATH | os.O_CLOEXEC)) for p in inside]
        _mount("tarn-hidden", h, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k")
        for p, fd in fds:
            if os.path.isdir("/proc/self/fd/%d" % fd):
                os.makedirs(p, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "a").close()
            _mount("/proc/self/fd/%d" % fd, p, None, MS_BIND | MS_REC)
            os.close(fd)
            try:  # Landlock denies writes anyway; this is for kernels without it
                _mount(None, p, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(p))
            except OSError:
                pass
        _mount(None, h, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.path.isdir("/dev/shm"):
        try:  # POSIX semaphores (multiprocessing) live here: a private one
            _mount("tarn-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
        except OSError:
            pass


# ---- capabilities ------------------------------------------------------------------

def _drop_capabilities():
    # No root privileges come back on exec, and none are kept.
    _prctl(PR_SET_SECUREBITS, 0x2F)  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED (+ locks)
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    _prctl(PR_CAP_AMBIENT, 4)  # PR_CAP_AMBIENT_CLEAR_ALL
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = ctypes.create_string_buffer(24)
    _libc.capset(ctypes.c_char_p(header), data)
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise _errno_error("prctl(PR_SET_NO_NEW_PRIVS)")


# ---- Landlock -------------------------------------------------------------------------

def _fs_handled(abi):
    mask = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        mask |= LL_REFER
    if abi >= 3:
        mask |= LL_TRUNCATE
    return mask


def _allow_except(root, hidden, access, rules):
    """Rules giving ACCESS beneath ROOT except beneath any HIDDEN folder:
    Landlock only adds rights, so the path to a hidden folder is split into
    its siblings."""
    inside = [h for h in hidden if _is_under(h, root)]
    if not inside:
        rules.append((root, access))
        return
    if root in inside:
        return
    try:
        names = os.listdir(root)
    except OSError:
        return
    for n in names:
        child = os.path.join(root, n)
        # A symbolic link is skipped: a rule on it would land on its target,
        # which may hold a hidden folder (its target has rules of its own).
        if not os.path.islink(child):
            _allow_except(child, inside, access, rules)


def _landlock(abi, policy, scratch, hidden_by_mount):
    handled = _fs_handled(abi)
    read = LL_READ & handled
    rules = []
    hidden = [] if hidden_by_mount else list(policy.get("hide") or ())
    if hidden:
        # Without a mount namespace, names in the hidden folders stay
        # listable (READ_DIR cannot be taken back beneath "/"); their files
        # can never be opened.
        rules.append(("/", LL_READ_DIR))
        _allow_except("/", hidden, LL_EXECUTE | LL_READ_FILE, rules)
        rules += [(p, read) for p in policy.get("read") or () if os.path.exists(p)]
    else:
        rules.append(("/", read))
    for w in (scratch, "/dev/shm"):
        if w and os.path.isdir(w):
            rules.append((w, handled))
    for dev in ("/dev/null", "/dev/zero", "/dev/full"):
        rules.append((dev, LL_WRITE_FILE | LL_READ_FILE | (LL_TRUNCATE & handled)))

    net = 0 if policy.get("internet") or abi < 4 else LL_NET_BIND_TCP | LL_NET_CONNECT_TCP
    scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", handled, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    rfd = _libc.syscall(ctypes.c_long(_LL_CREATE), ctypes.c_char_p(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if rfd < 0:
        raise _errno_error("landlock_create_ruleset")
    try:
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir("/proc/self/fd/%d" % fd):
                    access &= LL_FILE_ONLY
                rule = struct.pack("=Qi", access & handled, fd)
                if _libc.syscall(ctypes.c_long(_LL_ADD), ctypes.c_int(rfd), ctypes.c_int(1), ctypes.c_char_p(rule),
                                 ctypes.c_uint32(0)) != 0:
                    raise _errno_error("landlock_add_rule %s" % path)
            finally:
                os.close(fd)
        if _libc.syscall(ctypes.c_long(_LL_RESTRICT), ctypes.c_int(rfd), ctypes.c_uint32(0)) != 0:
            raise _errno_error("landlock_restrict_self")
    finally:
        os.close(rfd)


# ---- seccomp ----------------------------------------------------------------------------

def _seccomp(internet):
    """Denies (EACCES) socket() without internet access, and always io_uring
    and system calls of another ABI (x32, 32-bit), which could bypass it."""
    arch = _seccomp_arch()
    if arch is None:
        return False
    audit_arch, nr_socket, _nr_socketpair = arch
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EACCES
    prog = [(ld, 0, 0, 4),                      # arch
            (jeq, 1, 0, audit_arch),
            (ret, 0, 0, deny),
            (ld, 0, 0, 0)]                      # syscall number
    if platform.machine() == "x86_64":
        prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, deny)]  # x32 ABI
    prog += [(jge, 0, 2, 425), (jge, 1, 0, 428), (ret, 0, 0, deny)]  # io_uring_*
    if not internet:
        prog += [(jeq, 0, 1, nr_socket), (ret, 0, 0, deny)]
    prog += [(ret, 0, 0, allow)]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf))
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise _errno_error("prctl(PR_SET_NO_NEW_PRIVS)")
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    if _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf)) != 0:
        raise _errno_error("seccomp")
    return True


# ---- limits ------------------------------------------------------------------------------

def limit_memory(nbytes):
    """Caps this process's address space at what it maps now plus NBYTES
    (inputs are mapped by then: the limit is what the task may add)."""
    import resource
    try:
        with open("/proc/self/statm") as f:
            now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        now = 0
    cap = now + int(nbytes)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _limit_cpus(n):
    cpus = sorted(os.sched_getaffinity(0))
    n = max(1, min(len(cpus), int(-(-float(n) // 1))))  # a fraction takes a whole CPU
    start = os.getpid() % len(cpus)  # tasks spread over the machine's CPUs
    os.sched_setaffinity(0, [cpus[(start + i) % len(cpus)] for i in range(n)])


# ---- the processes -------------------------------------------------------------------------

def _kill_descendants():
    """Kills every process below this one (orphans come back to this
    subreaper), until none is left."""
    me = os.getpid()
    for _round in range(100):
        found = set()
        stack = [me]
        while stack:
            p = stack.pop()
            try:
                tids = os.listdir("/proc/%d/task" % p)
            except OSError:
                continue
            for t in tids:
                try:
                    with open("/proc/%d/task/%s/children" % (p, t)) as f:
                        kids = [int(c) for c in f.read().split()]
                except OSError:
                    kids = []
                for k in kids:
                    if k not in found:
                        found.add(k)
                        stack.append(k)
        for k in found:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        reaped = False
        while True:
            try:
                pid, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not found and not reaped:
            return
        time.sleep(0.001)


def wait_child(pid, timeout):
    """(wait status, timed out) of child PID, killed with SIGKILL if it
    outlives TIMEOUT seconds (None: no limit). Sleeps on a pidfd, so the end
    is seen at once; polls where there is none."""
    if not timeout:
        return os.waitpid(pid, 0)[1], False
    deadline = time.monotonic() + float(timeout)
    try:
        import select
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        delay = 0.0005
        while True:
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return status, False
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                return os.waitpid(pid, 0)[1], True
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.02)
    finally:
        if fd is not None:
            os.close(fd)


def _restrict(policy, flags, scratch, cpus):
    """In M, last step before user code: what was applied, as names."""
    layers = []
    if cpus:
        _limit_cpus(cpus)
    if policy is None or policy.get("mode") == "off":
        return layers
    if flags:
        layers.append("namespaces")
    _drop_capabilities()
    abi = landlock_abi()
    if abi:
        _landlock(abi, policy, scratch, bool(flags & CLONE_NEWNS))
        layers.append("landlock")
    if _seccomp(bool(policy.get("internet"))):
        layers.append("seccomp")
    # The lakehouse's own variables (TARN_HOME, a remote's token...) stay out.
    for k in [k for k in os.environ if k.startswith("TARN_")]:
        del os.environ[k]
    return layers


def _check_policy(policy, flags):
    if policy is None or policy.get("mode") == "off":
        return
    if not flags & CLONE_NEWNS and not landlock_abi():
        raise Refused(
            "this kernel offers neither Landlock nor unprivileged namespaces, so the model could "
            "open the lakehouse; models are not run unconfined unless you set "
            "'run.confine = off' in .tarn/config (see docs/models.md)")
    if not policy.get("internet") and not flags & CLONE_NEWNET and _seccomp_arch() is None \
            and landlock_abi() < 4:
        raise Refused(
            "this kernel cannot take the network away from the model (no network namespace, "
            "seccomp or Landlock 4); declare @tarn.model(internet_access=True) or set "
            "'run.confine = off' in .tarn/config")


def make_scratch():
    """A new scratch folder for one task, named after this process, which
    removes it (remove_scratch) once the task has ended, whatever the task
    did to its supervisor."""
    return tempfile.mkdtemp(prefix="tarn-task-%d-" % os.getpid())


def remove_scratch(path):
    if path and os.path.isdir(path):
        shutil.rmtree(path, onerror=_force_writable)


def remove_stale_scratch():
    """Removes scratch folders whose creator is gone (it was killed before
    it could remove them)."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for n in names:
        parts = n.split("-")
        if len(parts) < 4 or parts[0] != "tarn" or parts[1] != "task" or not parts[2].isdigit():
            continue
        try:
            os.kill(int(parts[2]), 0)
            continue  # alive (or another user's): not ours to remove
        except ProcessLookupError:
            pass
        except OSError:
            continue
        path = os.path.join(root, n)
        try:
            if os.stat(path).st_uid == os.geteuid():
                remove_scratch(path)
        except OSError:
            pass


def supervise(policy, body, report, scratch, timeout=None, cpus=None, keep_fds=()):
    """Runs BODY() confined by POLICY (None: not confined, only supervised),
    in the folder SCRATCH (from make_scratch; emptied and removed here and
    again by its creator), within TIMEOUT seconds on CPUS CPUs, then calls
    REPORT(end) with ``{"exitcode", "signal", "timed_out", "confined":
    [layers], "refused", "cancelled"}`` (SIGTERM to this process is a
    cancel: the task and what it started are killed, and "cancelled" is
    true). Call in a freshly forked, single-threaded
    process; never returns. KEEP_FDS: descriptors BODY needs (0, 1 and 2
    are always kept)."""
    code = 0
    try:
        _set_pdeathsig()
        _close_fds({0, 1, 2} | set(keep_fds))
        flags = _unshare(bool((policy or {}).get("internet"))) \
            if policy is not None and policy.get("mode") != "off" else 0
        try:
            _check_policy(policy, flags)
        except Refused as e:
            report({"exitcode": None, "signal": None, "timed_out": False, "confined": [],
                    "refused": str(e)})
            return
        rd, wr = os.pipe()  # M's wait status (from I) and the layers it applied
        if flags & CLONE_NEWPID:
            pid = os.fork()
            if pid == 0:
                os.close(rd)
                _init(policy, flags, scratch, cpus, body, wr)
        else:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            pid = os.fork()
            if pid == 0:
                os.close(rd)
                _model(policy, flags, scratch, cpus, body, wr)
        os.close(wr)
        # SIGTERM is a cancel (tarn job stop): the task goes at once, what
        # it started goes with it below, and the end report says why.
        cancelled = []

        def _cancel(_signo, _frame):
            cancelled.append(True)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        signal.signal(signal.SIGTERM, _cancel)
        # The output pipe ends with the task, not with its supervisor.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
        status, timed_out = wait_child(pid, timeout)
        _kill_descendants()
        notes = {}
        with os.fdopen(rd, "rb") as f:
            for line in f.read().decode("ascii", "replace").splitlines():
                key, _, value = line.partition(" ")
                notes[key] = value
        if "status" in notes:
            status = int(notes["status"])
        end = {"exitcode": None, "signal": None, "timed_out": timed_out, "timeout": timeout,
               "confined": [x for x in notes.get("layers", "").split(",") if x],
               "cancelled": bool(cancelled)}
        if os.WIFSIGNALED(status):
            end["signal"] = os.WTERMSIG(status)
        else:
            end["exitcode"] = os.WEXITSTATUS(status)
        report(end)
    except BaseException as e:  # pragma: no cover - supervisor trouble
        code = 71
        try:
            report({"exitcode": None, "signal": None, "timed_out": False, "confined": [],
                    "refused": "the task's supervisor failed: %s: %s" % (type(e).__name__, e)})
        except BaseException:
            pass
    finally:
        remove_scratch(scratch)
        os._exit(code)


def _force_writable(func, path, _exc):
    try:
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
        func(path)
    except OSError:
        pass


def _init(policy, flags, scratch, cpus, body, note_fd):
    """Pid 1 of the task's namespace: sets up its mounts, runs M, reaps
    orphans; when it exits the kernel kills everything left."""
    code = 0
    try:
        _set_pdeathsig()
        if flags & CLONE_NEWNS:
            _mount_view(policy.get("hide") or (), policy.get("read") or ())
        pid = os.fork()
        if pid == 0:
            _model(policy, flags, scratch, cpus, body, note_fd)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        while True:
            got, status = os.wait()
            if got == pid:
                os.write(note_fd, b"status %d\n" % status)
                break
    except BaseException:  # pragma: no cover
        code = 72
    finally:
        os._exit(code)


def _model(policy, flags, scratch, cpus, body, note_fd):
    """M: confines itself, then runs BODY; exits 0 after it."""
    code = 0
    try:
        _set_pdeathsig()
        os.setsid()  # its own process group: a kill(0) stays inside the task
        os.chdir(scratch)
        os.environ["TMPDIR"] = scratch
        tempfile.tempdir = None
        layers = _restrict(policy, flags, scratch, cpus)
        os.write(note_fd, b"layers %s\n" % ",".join(layers).encode())
        os.close(note_fd)
        body()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        code = 70
        try:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)
