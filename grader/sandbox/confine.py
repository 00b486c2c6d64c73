"""Kernel confinement of the worker process: the operating system, not Python, keeps student code in.

Called by :mod:`grader.sandbox.worker` in two steps, with system calls made through ``ctypes``
(no tool or package has to be installed):

``early`` (before torch is imported, while the process has one thread):
  - ``PR_SET_PDEATHSIG``: the worker dies with the grading process that started it;
  - namespaces: a new network namespace (no interface but a down ``lo``: no network), and a new
    mount namespace whose temporary folder is a fresh ``tmpfs`` mounted ``noexec,nosuid,nodev``
    (files written there cannot be run or mapped as native code); as root directly, otherwise
    inside a new user namespace;
  - resource limits (address space, CPU time, file size, open files, no core dumps; processes
    when the worker has a uid of its own);
  - privileges: started as root, the worker moves to a uid of its own (no account needed) when
    the Python installation is readable by other users, else it keeps uid 0 but drops every
    capability; ``PR_SET_NO_NEW_PRIVS`` and ``PR_SET_DUMPABLE`` 0 in every case.

``late`` (after the worker has imported what it needs, before any student code):
  - Landlock: read-only access to the Python installation, its packages (the course's own
    ``grader`` and ``solutions`` carved out) and a few system files; read-write access to the
    temporary folder only; no TCP bind or connect; signals and abstract Unix sockets scoped to
    the worker (ABI 6+). Landlock also refuses ``ptrace``-mode access, so ``/proc`` of any other
    process (environment, memory, working directory) is out of reach;
  - seccomp: a hand-written BPF filter (x86_64 and aarch64, anything else is killed) that refuses
    new processes and programs (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``,
    ``execve``), signals to other processes (``kill`` and the like; ``F_SETOWN``/``FIOSETOWN``, which
    make the kernel signal an owner on I/O), ``ptrace``, ``process_vm_*``, sockets other than
    ``AF_UNIX``, namespaces, mounts, keys, BPF, perf, ``personality``, io_uring, modules and other
    privileged operations.

Every step reports what it did in a dict of layers (``"on: ..."`` or ``"off: why"``); the parent
decides whether what is on is enough (:data:`REQUIRED`). Only the standard library is used.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import signal
import sys

REQUIRED = ("filesystem", "syscalls")  # without both, student code is not run (unless the instructor says so)
LAYERS = ("namespaces", "tmpfs", "limits", "privileges", "filesystem", "syscalls")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# prctl options
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
# clone / unshare flags
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_THREAD = 0x00020000, 0x10000000, 0x40000000, 0x00010000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 1 << 18

ARCH = platform.machine()
# syscall numbers: (x86_64, aarch64); None where the call does not exist
_NR = {
    "landlock_create_ruleset": (444, 444), "landlock_add_rule": (445, 445), "landlock_restrict_self": (446, 446),
    "seccomp": (317, 277), "capset": (126, 91),
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "process_madvise": (440, 440), "process_mrelease": (448, 448), "kcmp": (312, 272),
    "move_pages": (279, 239), "migrate_pages": (256, 238),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430), "fsconfig": (431, 431),
    "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442),
    "setns": (308, 268), "unshare": (272, 97),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "personality": (135, 92), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "init_module": (175, 105),
    "finit_module": (313, 273), "delete_module": (176, 106), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89), "syslog": (103, 116),
    "quotactl": (179, 60), "quotactl_fd": (443, 443), "settimeofday": (164, 170), "clock_settime": (227, 112),
    "adjtimex": (159, 171), "clock_adjtime": (305, 266), "sethostname": (170, 161), "setdomainname": (171, 162),
    "vhangup": (153, 58), "iopl": (172, None), "ioperm": (173, None), "uselib": (134, None),
    "execve": (59, 221), "execveat": (322, 281), "fork": (57, None), "vfork": (58, None),
    "tkill": (200, 130), "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424), "pidfd_getfd": (438, 438),
    # inspected by argument below
    "clone": (56, 220), "clone3": (435, 435), "kill": (62, 129), "tgkill": (234, 131),
    "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240), "socket": (41, 198),
    "fcntl": (72, 25), "ioctl": (16, 29),
}
_ARCH_INDEX = {"x86_64": 0, "amd64": 0, "aarch64": 1, "arm64": 1}.get(ARCH.lower())
_AUDIT_ARCH = {0: 0xC000003E, 1: 0xC00000B7}
DENIED = tuple(n for n in _NR if n not in (
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "seccomp", "capset",
    "clone", "clone3", "kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "socket", "fcntl", "ioctl"))
# Commands that make the kernel signal another process on I/O (SIGIO, or any signal with F_SETSIG):
# kill's filter does not see them, and only Landlock's signal scope (ABI 6+) refuses them otherwise.
F_SETOWN, F_SETOWN_EX, FIOSETOWN, SIOCSPGRP = 8, 15, 0x8901, 0x8902


def nr(name: str) -> int | None:
    if _ARCH_INDEX is None:
        return None
    return _NR[name][_ARCH_INDEX]


def _errno(what: str) -> str:
    code = ctypes.get_errno()
    return f"{what}: {errno.errorcode.get(code, code)} ({os.strerror(code)})"


def _prctl(option: int, arg: int = 0) -> bool:
    return _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0


# --------------------------------------------------------------------------- early
def early(home: str, memory_mb: int, cpu_seconds: int, file_mb: int, tmp_mb: int = 256,
          parent: int | None = None) -> dict[str, str]:
    """Namespaces, limits and privileges; the process must still have one thread. ``parent`` is
    the grading process's pid (the worker ends at once if that process has already ended)."""
    layers: dict[str, str] = {}
    parent = os.getppid() if parent is None else parent
    die_with_parent(parent)
    uid, gid = os.geteuid(), os.getegid()
    root = uid == 0
    blocked = _unreadable_python(home) if root else None
    own_uid = _own_uid() if root and blocked is None else None
    layers["namespaces"], mount_ns = _namespaces(root, uid, gid)
    owner = own_uid if own_uid is not None else uid
    layers["tmpfs"] = _tmpfs(home, tmp_mb, owner, owner if own_uid is not None else gid) if mount_ns \
        else "off: no mount namespace"
    layers["limits"] = limits(memory_mb, cpu_seconds, file_mb, own_uid is not None)
    layers["privileges"] = _privileges(uid, own_uid, blocked, home)
    die_with_parent(parent)  # a change of uid clears it: set it again
    return layers


def _namespaces(root: bool, uid: int, gid: int) -> tuple[str, bool]:
    flags = CLONE_NEWNET | CLONE_NEWNS | (0 if root else CLONE_NEWUSER)
    if _libc.unshare(flags) == 0:
        if not root:
            _map_ids(uid, gid)
        return f"on: network and mount{'' if root else ' (in a user namespace)'}", True
    why = _errno("unshare")
    if _libc.unshare(CLONE_NEWNET | (0 if root else CLONE_NEWUSER)) == 0:
        if not root:
            _map_ids(uid, gid)
        return f"on: network only ({why})", False
    return f"off: {_errno('unshare')}", False


def _map_ids(uid: int, gid: int) -> None:
    """Inside the new user namespace, keep the same uid and gid (files keep their owners)."""
    for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny"), ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except OSError:
            pass


def _tmpfs(home: str, size_mb: int, uid: int, gid: int) -> str:
    """A private, size-limited, non-executable tmpfs over the worker's temporary folder."""
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"off: {_errno('mount --make-rprivate /')}"
    options = f"size={size_mb}m,nr_inodes=4096,mode=0700,uid={uid},gid={gid}".encode()
    if _libc.mount(b"tmpfs", home.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0:
        return f"off: {_errno('mount tmpfs')}"
    os.chdir(home)  # the working directory was the folder underneath
    return f"on: {size_mb} MiB, noexec"


def _own_uid() -> int:
    """A uid no account uses, derived from the process id (so workers differ from each other)."""
    return 0x3F000000 + (os.getpid() & 0xFFFFFF)


def _limit(kind: int, value: int) -> bool:
    try:
        resource.setrlimit(kind, (value, value))
        return True
    except (ValueError, OSError):
        return False


def limits(memory_mb: int, cpu_seconds: int, file_mb: int, own_uid: bool) -> str:
    done = [name for name, kind, value in (
        ("core=0", resource.RLIMIT_CORE, 0),
        (f"as={memory_mb}M", resource.RLIMIT_AS, memory_mb << 20),
        (f"cpu={cpu_seconds}s", resource.RLIMIT_CPU, cpu_seconds),
        (f"fsize={file_mb}M", resource.RLIMIT_FSIZE, file_mb << 20),
        ("nofile=256", resource.RLIMIT_NOFILE, 256),
        *([("nproc=64", resource.RLIMIT_NPROC, 64)] if own_uid else []),
    ) if value >= 0 and (value or name == "core=0") and _limit(kind, value)]
    if file_mb > 0:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-long writes fail instead of killing
    return "on: " + " ".join(done)


def _readable_by_others(paths: list[str]) -> str | None:
    """The first folder on the way to ``paths`` that other users cannot enter, or None."""
    for path in paths:
        here = os.path.abspath(path)
        while True:
            try:
                if not os.stat(here).st_mode & 0o001:
                    return here
            except OSError:
                return here
            if here == os.path.dirname(here):
                break
            here = os.path.dirname(here)
    return None


def _unreadable_python(home: str) -> str | None:
    import sysconfig

    needed = [sys.prefix, sys.base_prefix, *sysconfig.get_paths().values(), os.path.dirname(home)]
    return _readable_by_others([p for p in needed if p])


def _privileges(uid: int, own_uid: int | None, blocked: str | None, home: str) -> str:
    if own_uid is not None:
        try:
            os.chown(home, own_uid, own_uid)
            os.setgroups([])
            os.setresgid(own_uid, own_uid, own_uid)
            os.setresuid(own_uid, own_uid, own_uid)
            what = f"on: uid {own_uid} (no account, no capabilities)"
        except OSError as exc:
            _drop_capabilities()
            what = f"partial: could not change uid ({exc.strerror}); uid 0 without capabilities"
    elif uid == 0:
        _drop_capabilities()
        what = (f"partial: uid 0 without capabilities ({blocked} is not readable by other users, "
                "so this Python cannot run under a uid of its own)")
    else:
        _drop_capabilities()  # those the user namespace gave
        what = f"on: uid {uid} (not root), no capabilities"
    if not _prctl(PR_SET_NO_NEW_PRIVS, 1):
        return f"off: {_errno('no_new_privs')}"
    _prctl(PR_SET_DUMPABLE, 0)
    return what


def _drop_capabilities() -> None:
    for cap in range(64):
        if not _prctl(PR_CAPBSET_DROP, cap) and ctypes.get_errno() == errno.EINVAL:
            break
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    _libc.syscall(nr("capset") or -1, header, data)


# --------------------------------------------------------------------------- late
def late(read_paths: list[str], write_paths: list[str], device_paths: list[str],
         hidden: list[str]) -> dict[str, str]:
    """Landlock and seccomp; from here on the process can only shrink its rights."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    layers = {"filesystem": landlock(read_paths, write_paths, device_paths, hidden)}
    layers["syscalls"] = seccomp()
    return layers


# Landlock access rights (include/uapi/linux/landlock.h)
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
FS_MAKE_SYM, FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
WRITE = READ & ~FS_EXECUTE | FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG \
    | FS_MAKE_SYM | FS_TRUNCATE | FS_REFER
DEVICE = FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    if nr("landlock_create_ruleset") is None:
        return 0
    version = _libc.syscall(nr("landlock_create_ruleset"), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, version)


def carve(roots: list[str], hidden: list[str]) -> list[str]:
    """``roots`` with every path of ``hidden`` that lies strictly inside one of them left out:
    a root holding a hidden path is replaced by its other entries, recursively. A hidden path that
    holds a root (a venv inside the instructor's home) does not hide it."""
    hidden_real = {os.path.realpath(h) for h in hidden if h}
    out: list[str] = []

    def add(path: str) -> None:
        inside = [h for h in hidden_real if h != path and h.startswith(path.rstrip(os.sep) + os.sep)]
        if path in hidden_real:
            return
        if not inside:
            out.append(path)
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        for name in entries:
            child = os.path.join(path, name)
            if child in hidden_real:
                continue
            if os.path.islink(child):
                target = os.path.realpath(child)
                if any(target == h or target.startswith(h.rstrip(os.sep) + os.sep) for h in hidden_real):
                    continue
            add(child)

    roots_real = []
    for r in roots:
        real = os.path.realpath(r)
        if os.path.exists(real) and real not in roots_real:
            roots_real.append(real)
    for r in roots_real:
        add(r)
    return out


def landlock(read_paths: list[str], write_paths: list[str], device_paths: list[str], hidden: list[str]) -> str:
    abi = landlock_abi()
    if abi < 1:
        return f"off: Landlock is not available ({_errno('landlock_create_ruleset')})"
    fs = _FS_BY_ABI[max(a for a in _FS_BY_ABI if a <= abi)]
    attr = _RulesetAttr(fs, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                        (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _libc.syscall(nr("landlock_create_ruleset"), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"off: {_errno('landlock_create_ruleset')}"
    rules = 0
    try:
        for paths, access in ((carve(read_paths, hidden), READ), (write_paths, WRITE), (device_paths, DEVICE)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = access & fs
                    if not os.path.isdir(path):
                        allowed &= _FILE_RIGHTS
                    rule = _PathBeneath(allowed, fd)
                    if _libc.syscall(nr("landlock_add_rule"), ruleset, 1, ctypes.byref(rule), 0) != 0:
                        return f"off: {_errno(f'landlock_add_rule {path}')}"
                    rules += 1
                finally:
                    os.close(fd)
        if _libc.syscall(nr("landlock_restrict_self"), ruleset, 0) != 0:
            return f"off: {_errno('landlock_restrict_self')}"
    finally:
        os.close(ruleset)
    extras = (["no TCP"] if abi >= 4 else []) + (["signals and abstract sockets scoped"] if abi >= 6 else [])
    return f"on: Landlock ABI {abi}, {rules} rules" + "".join(f", {e}" for e in extras)


# --------------------------------------------------------------------------- seccomp
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG0, _OFF_ARG1 = 0, 4, 16, 24


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def program(pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program, as ``(code, jt, jf, k)``, for this architecture and process id."""
    if _ARCH_INDEX is None:
        raise OSError(f"no seccomp filter for the {ARCH} architecture")
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    code: list = [(_LD_W_ABS, 0, 0, _OFF_ARCH), (_JEQ, 1, 0, _AUDIT_ARCH[_ARCH_INDEX]),
                  (_RET, 0, 0, SECCOMP_RET_KILL_PROCESS), (_LD_W_ABS, 0, 0, _OFF_NR)]
    if _ARCH_INDEX == 0:  # the x32 ABI reaches the same calls under other numbers
        code += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, SECCOMP_RET_KILL_PROCESS)]
    for name in DENIED:
        if nr(name) is not None:
            code += [(_JEQ, 0, 1, nr(name)), (_RET, 0, 0, deny)]
    code += [(_JEQ, 0, 1, nr("clone3")), (_RET, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)]  # libc falls back to clone
    branches = [("clone", "thread"), ("socket", "unix"), ("fcntl", "fcntl"), ("ioctl", "ioctl"),
                *((name, "self") for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"))]
    for name, label in branches:
        code += [(_JEQ, label, 0, nr(name))]
    code += [(_RET, 0, 0, SECCOMP_RET_ALLOW)]
    blocks = {
        # clone: only new threads of this process
        "thread": [(_LD_W_ABS, 0, 0, _OFF_ARG0), (_JSET, 0, 1, CLONE_THREAD), (_RET, 0, 0, SECCOMP_RET_ALLOW),
                   (_RET, 0, 0, deny)],
        # socket: only AF_UNIX (1)
        "unix": [(_LD_W_ABS, 0, 0, _OFF_ARG0), (_JEQ, 0, 1, 1), (_RET, 0, 0, SECCOMP_RET_ALLOW), (_RET, 0, 0, deny)],
        # no owner to signal on I/O (the command is an unsigned int: the low word is what the kernel reads)
        "fcntl": [(_LD_W_ABS, 0, 0, _OFF_ARG1), (_JEQ, 2, 0, F_SETOWN), (_JEQ, 1, 0, F_SETOWN_EX),
                  (_RET, 0, 0, SECCOMP_RET_ALLOW), (_RET, 0, 0, deny)],
        "ioctl": [(_LD_W_ABS, 0, 0, _OFF_ARG1), (_JEQ, 2, 0, FIOSETOWN), (_JEQ, 1, 0, SIOCSPGRP),
                  (_RET, 0, 0, SECCOMP_RET_ALLOW), (_RET, 0, 0, deny)],
        # signals: only to itself (its pid, its own process group, 0 = its group)
        "self": [(_LD_W_ABS, 0, 0, _OFF_ARG0), (_JEQ, 2, 0, pid), (_JEQ, 1, 0, (-pid) & 0xFFFFFFFF),
                 (_JEQ, 0, 1, 0), (_RET, 0, 0, SECCOMP_RET_ALLOW), (_RET, 0, 0, deny)],
    }
    starts = {}
    for label, block in blocks.items():
        starts[label] = len(code)
        code += block
    out = []
    for i, (op, jt, jf, k) in enumerate(code):
        if isinstance(jt, str):
            jt = starts[jt] - i - 1
            if not 0 <= jt < 256:
                raise OSError("seccomp program: jump out of range")
        out.append((op, jt, jf, k))
    return out


def seccomp() -> str:
    try:
        code = program(os.getpid())
    except OSError as exc:
        return f"off: {exc}"
    filters = (_Filter * len(code))(*[_Filter(*c) for c in code])
    prog = _Prog(len(code), filters)
    SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
    if _libc.syscall(nr("seccomp"), SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(prog)) != 0:
        return f"off: {_errno('seccomp')}"
    return f"on: seccomp-BPF, {len(code)} instructions, {ARCH}"


# --------------------------------------------------------------------------- what the worker may see
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/usr/lib64", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
               "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/proc/self", "/proc/cpuinfo",
               "/proc/meminfo", "/proc/stat", "/sys/devices/system/cpu", "/sys/devices/system/node",
               "/dev/zero", "/dev/urandom", "/dev/random")
SYSTEM_DEVICES = ("/dev/null",)


def python_paths() -> list[str]:
    """The Python installation, the virtual environment and their package folders."""
    import site
    import sysconfig

    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *sysconfig.get_paths().values(), *site.getsitepackages()]
    return [p for p in dict.fromkeys(paths) if p and os.path.isdir(p)]


def course_paths() -> list[str]:
    """What student code must never read: the course's packages (wherever they are installed)
    and, for a source checkout, the whole checkout (``.git``, ``tests``, notes)."""
    import importlib.util

    paths: list[str] = []
    for name in ("grader", "solutions"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            paths += [os.path.realpath(p) for p in spec.submodule_search_locations]
    for package in list(paths):
        root = os.path.dirname(package)
        if any(os.path.exists(os.path.join(root, marker)) for marker in ("pyproject.toml", ".git")):
            paths.append(root)
    return list(dict.fromkeys(paths))


def device_files(device: str) -> list[str]:
    if device != "cuda":
        return list(SYSTEM_DEVICES)
    nvidia = sorted(os.path.join("/dev", n) for n in os.listdir("/dev") if n.startswith("nvidia"))
    return [*SYSTEM_DEVICES, *nvidia]


def die_with_parent(parent: int | None = None) -> None:
    """Be killed when the process that started this one ends; ``parent`` is its pid, as that
    process knew it (if it has already ended, this process ends now)."""
    parent = os.getppid() if parent is None else parent
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # reparented, or started through a wrapper (runuser): is it gone?
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
