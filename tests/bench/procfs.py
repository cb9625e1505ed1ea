"""What the bench scripts read of a process in /proc: CPU time, and the
numbers of /proc/PID/status (RSS and its peak, threads)."""

import os


def _stat_cpu(raw):
    """utime + stime, in seconds, of one /proc/.../stat text (the command
    name, in parentheses, may hold spaces: the fields start after its ")")."""
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        return _stat_cpu(f.read())


def thread_cpu(pid):
    """utime + stime in seconds per thread name (crier-core, crier-http-N, ...)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                raw = f.read()
        except OSError:
            continue  # the thread ended
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        out[name] = out.get(name, 0.0) + _stat_cpu(raw)
    return out


def status(pid, *keys):
    """{key: number} of the given /proc/PID/status fields (VmRSS, VmHWM,
    RssAnon, RssFile: KiB; Threads, PPid), read at once; 0 for a field the
    file lacks."""
    out = dict.fromkeys(keys, 0)
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in out:
                out[key] = int(value.split()[0])
    return out


def status_kib(pid, key):
    """One /proc/PID/status field, e.g. VmHWM (peak RSS, KiB); 0 when absent."""
    return status(pid, key)[key]
