#!/usr/bin/env python3
"""Compile, Helm and Kustomize benchmarks of the whole meshpack binary, as
paired ratios from alternating runs in one invocation (min/median/max), wall
and CPU (user+sys of the child, from wait4). Run through bench/compile.sh,
which builds meshpack and finds the tools.

  compile fresh   meshpack compile POLICY -o NEW_DIR (a folder that does not exist)
  recompile       the same into the folder the previous run wrote
  cp -r           cp -r of that compile's own output into a new folder
  helm template   the generated chart (istio on) vs a chart holding the same
                  objects as plain YAML (no template logic)
  kustomize       kubectl kustomize of every generated overlay (overlays/*),
                  or of each of its part-* folders when the overlay is
                  written in parts (one round = every part in turn; per-part
                  times over all rounds, totals per round), each build
                  capped at --cap seconds (killed and reported as cut), with
                  the 1-minute load average when the row ends

Inputs: `meshpack synthesize --services N` (every service in one namespace).
Only the Kustomize table: `--services "" --helm-services ""`.
With `--before OTHER_MESHPACK`: only before/after tables (fresh compiles of
both binaries alternating, cp -r of each output, `helm template` of both
charts against the plain chart with Helm 3 and 4, and `kubectl kustomize` of
every overlay of both Kustomize trees, all parts in turn, alternating; the
two trees must render the same objects).
Everything is written under one temporary folder (prefix cperf-), holding one
size at a time, and removed at the end; it is made in /dev/shm when that is a
tmpfs (see default_work_root), or in --work-dir.
"""
import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def plain_chart(rendered, work):
    """A chart holding `rendered` as plain YAML (no template logic), in
    several files, since Helm loads no chart file over 5 MiB; `{{` is
    escaped so Helm prints it. Returns its folder."""
    plain = os.path.join(work, "plain")
    os.makedirs(os.path.join(plain, "templates"))
    with open(os.path.join(plain, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: bench\nversion: 1.0.0\n")
    docs = rendered.replace("{{", '{{ "{{" }}').split("\n---\n")
    for i in range(0, len(docs), 500):
        with open(os.path.join(plain, "templates", f"part-{i // 500}.yaml"), "w") as f:
            f.write("\n---\n".join(docs[i:i + 500]) + "\n")
    return plain


def run(cmd, cap=None, stdout=subprocess.DEVNULL):
    """Run cmd; return (wall s, cpu s, peak RSS MiB, finished).

    Dirty pages are written out first (`sync`, untimed), so that no run
    pays for writing back what the one before it wrote (see also
    default_work_root)."""
    os.sync()
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True)
    deadline = None if cap is None else start + cap
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            _, status, usage = os.wait4(p.pid, 0)
            return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, False
        time.sleep(0.002)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, True


def fs_type(path):
    """The type of the file system holding path, from /proc/mounts."""
    best, kind = "", "unknown"
    path = os.path.realpath(path)
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                mount = fields[1]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                # >=: of two mounts on one point, the later one is seen.
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def default_work_root():
    """/dev/shm when it is a tmpfs: compiles and copies then measure the
    programs' own work, not the disk's state. On this machine's root (ext4
    without a journal) creating a file scans the inodes freed in the last
    minute or more before reusing one (`recently_deleted()` in the kernel's
    fs/ext4/ialloc.c); the bench removes each run's output, so every later
    run paid that scan, up to 0.7 s of `cp -r`'s 0.06 s at 10,000 services
    and a fifth of the compile's perf samples (session 17)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and fs_type(shm) == "tmpfs":
        st = os.statvfs(shm)
        # A 10,000-service row holds its policy, two outputs and a copy at
        # once (~300 MB); a container's default /dev/shm is 64 MiB.
        if st.f_bavail * st.f_frsize >= 2 * 2**30:
            return shm
    return tempfile.gettempdir()


def spread(xs, fmt="{:.3f}"):
    xs = sorted(xs)
    return "/".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))


def paired(a_runs, b_runs):
    """min/median/max of the per-pair ratios a/b, wall and CPU."""
    wall = [a[0] / b[0] for a, b in zip(a_runs, b_runs)]
    cpu = [a[1] / b[1] for a, b in zip(a_runs, b_runs) if b[1] > 0]
    return spread(wall, "{:.2f}"), spread(cpu, "{:.2f}") if cpu else "-"


def rm(path):
    shutil.rmtree(path, ignore_errors=True)


def du(path):
    total, files = 0, 0
    for root, _, names in os.walk(path):
        for n in names:
            total += os.lstat(os.path.join(root, n)).st_size
            files += 1
    return total, files


def compile_rows(m, work, n, runs):
    policy = os.path.join(work, "policy.yaml")
    fresh, recompile, copies, both = [], [], [], []
    kept = os.path.join(work, "kept")
    for i in range(runs):
        out = os.path.join(work, f"fresh-{i}")
        fresh.append(run([m, "compile", policy, "-o", out]))
        copy = os.path.join(work, f"copy-{i}")
        copies.append(run(["cp", "-r", out, copy]))
        rm(copy)
        if i == 0:
            os.rename(out, kept)
            size, files = du(kept)
        else:
            rm(out)
        # A recompile: the same policy into the folder the last run wrote.
        recompile.append(run([m, "compile", policy, "-o", kept]))
        k = os.path.join(work, f"both-{i}")
        both.append(run([m, "compile", policy, "-o", k + "-chart", "--kustomize", k + "-kust"]))
        rm(k + "-chart")
        rm(k + "-kust")
    rm(kept)
    cp_wall, cp_cpu = paired(fresh, copies)
    return (
        f"| {n} | {files} | {size / 2**20:.1f} MiB "
        f"| {spread([r[0] for r in fresh])} s | {spread([r[1] for r in fresh])} s | {max(r[2] for r in fresh):.0f} MiB "
        f"| {spread([r[0] for r in copies])} s | {cp_wall} | {cp_cpu} "
        f"| {spread([r[0] for r in recompile])} s "
        f"| {spread([r[0] for r in both])} s | {max(r[2] for r in both):.0f} MiB |"
    )


# The chart checks Istio kind by kind (templates/istio/capabilities.yaml):
# group versions alone make `helm template` fail.
API = [a for v in ["security.istio.io/v1/PeerAuthentication", "security.istio.io/v1/AuthorizationPolicy",
                   "networking.istio.io/v1/DestinationRule", "networking.istio.io/v1/Gateway",
                   "networking.istio.io/v1/ServiceEntry", "networking.istio.io/v1/Sidecar",
                   "networking.istio.io/v1/VirtualService", "cert-manager.io/v1"]
       for a in ("--api-versions", v)]


def helm_row(m, helm, work, n, runs):
    policy = os.path.join(work, "policy.yaml")
    chart = os.path.join(work, "chart")
    subprocess.run([m, "compile", policy, "-o", chart], check=True, stderr=subprocess.DEVNULL)
    args = ["template", "bench", chart, "--set", "istio.enabled=true", *API]
    rendered = subprocess.run([helm, *args], check=True, capture_output=True).stdout.decode()
    plain = plain_chart(rendered, work)
    objects = sum(1 for line in rendered.splitlines() if line.startswith("kind:"))
    gen, pl = [], []
    for _ in range(runs):
        gen.append(run([helm, *args]))
        pl.append(run([helm, "template", "bench", plain]))
    rm(chart)
    rm(plain)
    wall, cpu = paired(gen, pl)
    return (
        f"| {n} | {objects} | {spread([r[0] for r in gen])} s | {spread([r[1] for r in gen])} s "
        f"| {spread([r[0] for r in pl])} s | {spread([r[1] for r in pl])} s | {wall} | {cpu} "
        f"| {max(r[2] for r in gen):.0f} / {max(r[2] for r in pl):.0f} MiB |"
    )


def kustomize_targets(overlay):
    """What a customer builds for one overlay: the overlay itself, or each of
    its part-* folders when meshpack wrote it in parts (docs/kustomize.md)."""
    parts = sorted(d for d in os.listdir(overlay) if d.startswith("part-"))
    return [os.path.join(overlay, d) for d in parts] or [overlay]


def kustomize_rows(m, kubectl, work, n, runs, cap):
    policy = os.path.join(work, "policy.yaml")
    kust = os.path.join(work, "kust")
    subprocess.run([m, "compile", policy, "-o", os.path.join(work, "chart"), "--kustomize", kust],
                   check=True, stderr=subprocess.DEVNULL)
    rows = []
    overlays = os.path.join(kust, "overlays")
    for o in sorted(os.listdir(overlays)):
        targets = kustomize_targets(os.path.join(overlays, o))
        # Objects per target, from one build (not timed).
        sizes = []
        for t in targets:
            # Untimed, only to count objects; a build past the cap leaves
            # the count unknown instead of ending the whole run.
            try:
                out = subprocess.run([kubectl, "kustomize", t], capture_output=True, text=True, timeout=cap * 4)
            except subprocess.TimeoutExpired:
                sizes = []
                break
            sizes.append(sum(1 for line in out.stdout.splitlines() if line.startswith("kind:")))
        per_part, totals, cut = [], [], None
        for _ in range(runs):
            # One round: every part in turn, as the apply loop runs them.
            wall_sum, cpu_sum, rss = 0.0, 0.0, 0
            for t in targets:
                wall, cpu, r, done = run([kubectl, "kustomize", t], cap=cap)
                if not done:
                    cut = (cpu, r)
                    break
                per_part.append((wall, cpu))
                wall_sum, cpu_sum, rss = wall_sum + wall, cpu_sum + cpu, max(rss, r)
            if cut:
                break
            totals.append((wall_sum, cpu_sum, rss))
        load = f"{os.getloadavg()[0]:.1f}"
        if not sizes:
            objs = "? (not counted: past the cap)"
        elif len(targets) > 1:
            objs = f"{sum(sizes)} ({min(sizes)}-{max(sizes)} per part)"
        else:
            objs = str(sum(sizes))
        if cut:
            # What it had used when killed: a lower bound, not a time.
            rows.append(f"| {n} | {o} | {len(targets)} | {objs} | cut: a build killed after {cap:.0f} s "
                        f"| > {cut[0]:.1f} s | | | > {cut[1]:.0f} MiB | {load} |")
        else:
            rows.append(f"| {n} | {o} | {len(targets)} | {objs} "
                        f"| {spread([t[0] for t in per_part])} s | {spread([t[1] for t in per_part])} s "
                        f"| {spread([t[0] for t in totals])} s | {spread([t[1] for t in totals])} s "
                        f"| {max(t[2] for t in totals):.0f} MiB | {load} |")
    rm(kust)
    rm(os.path.join(work, "chart"))
    return rows


def versus_row(before, after, work, n, runs):
    """Fresh compiles by two binaries alternating, and cp -r of each output."""
    policy = os.path.join(work, "policy.yaml")
    b_runs, a_runs, b_cp, a_cp = [], [], [], []
    shape = {}
    for i in range(runs):
        for tag, m, res, cps in (("b", before, b_runs, b_cp), ("a", after, a_runs, a_cp)):
            out = os.path.join(work, f"{tag}-fresh-{i}")
            res.append(run([m, "compile", policy, "-o", out]))
            copy = os.path.join(work, f"{tag}-copy-{i}")
            cps.append(run(["cp", "-r", out, copy]))
            shape[tag] = du(out)
            rm(copy)
            rm(out)
    wall, cpu = paired(a_runs, b_runs)
    a_cp_wall, a_cp_cpu = paired(a_runs, a_cp)
    b_cp_wall, _ = paired(b_runs, b_cp)
    return (
        f"| {n} | {shape['b'][1]} / {shape['a'][1]} "
        f"| {spread([r[0] for r in b_runs])} s | {spread([r[0] for r in a_runs])} s "
        f"| {spread([r[1] for r in b_runs])} s | {spread([r[1] for r in a_runs])} s "
        f"| {wall} | {cpu} | {max(r[2] for r in b_runs):.0f} / {max(r[2] for r in a_runs):.0f} MiB "
        f"| {spread([r[0] for r in b_cp])} s | {spread([r[0] for r in a_cp])} s "
        f"| {b_cp_wall} | {a_cp_wall} | {os.getloadavg()[0]:.1f} |"
    )


def helm_versus_row(before, after, helm, work, n, runs):
    """helm template of both binaries' charts and of the plain chart, alternating."""
    policy = os.path.join(work, "policy.yaml")
    charts = {}
    for tag, m in (("b", before), ("a", after)):
        charts[tag] = os.path.join(work, f"chart-{tag}")
        subprocess.run([m, "compile", policy, "-o", charts[tag]], check=True, stderr=subprocess.DEVNULL)
    args = lambda c: ["template", "bench", c, "--set", "istio.enabled=true", *API]
    rendered = subprocess.run([helm, *args(charts["a"])], check=True, capture_output=True).stdout.decode()
    plain = plain_chart(rendered, work)
    gb, ga, pl = [], [], []
    for _ in range(runs):
        gb.append(run([helm, *args(charts["b"])]))
        ga.append(run([helm, *args(charts["a"])]))
        pl.append(run([helm, "template", "bench", plain]))
    for c in charts.values():
        rm(c)
    rm(plain)
    bw, bc = paired(gb, pl)
    aw, ac = paired(ga, pl)
    _, ab = paired(ga, gb)
    name = os.path.basename(os.path.dirname(helm))
    return (
        f"| {n} | {name} | {spread([r[1] for r in gb])} s | {spread([r[1] for r in ga])} s "
        f"| {spread([r[1] for r in pl])} s | {bw} | {bc} | {aw} | {ac} | {ab} "
        f"| {max(r[2] for r in gb):.0f} / {max(r[2] for r in ga):.0f} / {max(r[2] for r in pl):.0f} MiB "
        f"| {os.getloadavg()[0]:.1f} |"
    )


def rendered(kubectl, targets, cap):
    """Every object `kubectl kustomize` renders from targets, as sorted
    document texts (not timed): what a before/after pair must agree on."""
    docs = []
    for t in targets:
        out = subprocess.run([kubectl, "kustomize", t], capture_output=True, text=True, timeout=cap * 4, check=True)
        docs.extend(d.strip() for d in out.stdout.split("\n---\n") if d.strip())
    return sorted(docs)


def kustomize_versus_rows(before, after, kubectl, work, n, runs, cap):
    """kubectl kustomize of every overlay of both binaries' trees: one round
    builds all of before's parts, then all of after's (alternating rounds)."""
    policy = os.path.join(work, "policy.yaml")
    trees = {}
    for tag, m in (("b", before), ("a", after)):
        trees[tag] = os.path.join(work, f"kust-{tag}")
        subprocess.run([m, "compile", policy, "-o", os.path.join(work, f"chart-{tag}"), "--kustomize", trees[tag]],
                       check=True, stderr=subprocess.DEVNULL)
    rows = []
    for o in sorted(os.listdir(os.path.join(trees["a"], "overlays"))):
        targets = {tag: kustomize_targets(os.path.join(t, "overlays", o)) for tag, t in trees.items()}
        same = rendered(kubectl, targets["b"], cap) == rendered(kubectl, targets["a"], cap)
        totals = {"b": [], "a": []}
        for _ in range(runs):
            for tag in ("b", "a"):
                wall_sum, cpu_sum, rss = 0.0, 0.0, 0
                for t in targets[tag]:
                    wall, cpu, r, done = run([kubectl, "kustomize", t], cap=cap)
                    if not done:
                        sys.exit(f"error: kubectl kustomize {t} took over {cap:.0f} s")
                    wall_sum, cpu_sum, rss = wall_sum + wall, cpu_sum + cpu, max(rss, r)
                totals[tag].append((wall_sum, cpu_sum, rss))
        wall, cpu = paired(totals["a"], totals["b"])
        b, a = totals["b"], totals["a"]
        rows.append(
            f"| {n} | {o} | {len(targets['b'])} / {len(targets['a'])} | {'yes' if same else '**NO**'} "
            f"| {spread([r[0] for r in b])} s | {spread([r[0] for r in a])} s "
            f"| {spread([r[1] for r in b])} s | {spread([r[1] for r in a])} s | {wall} | {cpu} "
            f"| {max(r[2] for r in b):.0f} / {max(r[2] for r in a):.0f} MiB | {os.getloadavg()[0]:.1f} |"
        )
    for tag in ("b", "a"):
        rm(trees[tag])
        rm(os.path.join(work, f"chart-{tag}"))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshpack", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--services", default="1000,10000")
    ap.add_argument("--helm-services", default="1000")
    ap.add_argument("--kustomize-services", default="100,300,1000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cap", type=float, default=60.0, help="seconds per kubectl kustomize run")
    ap.add_argument("--work-dir", help="where outputs are written (default: /dev/shm when it is a "
                    "tmpfs, else the system's temporary folder)")
    ap.add_argument("--before", help="another meshpack binary: print only before/after tables "
                    "(compile fresh and cp -r at --services, helm template at --helm-services, Helm 3 and 4, "
                    "kubectl kustomize at --kustomize-services)")
    a = ap.parse_args()
    m = a.meshpack
    helm = os.path.join(a.tools, "helm4", "helm")
    kubectl = os.path.join(a.tools, "helm4", "kubectl")
    for tool in (m, helm, kubectl):
        if not os.access(tool, os.X_OK):
            sys.exit(f"error: {tool} is not an executable; run `bash tests/tools.sh` first")
    root = a.work_dir or default_work_root()
    if not os.path.isdir(root) or not os.access(root, os.W_OK):
        sys.exit(f"error: --work-dir {root} is not a writable folder")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, load {os.getloadavg()[0]:.1f}; "
          f"commit {commit}{' (modified)' if dirty else ''}; {a.runs} alternating pairs per row; "
          "times min/median/max")
    print(f"outputs under {root} ({fs_type(root)})")

    def sizes(s):
        return [int(x) for x in s.split(",") if x]

    def synth(work, n):
        with open(os.path.join(work, "policy.yaml"), "w") as f:
            subprocess.run([m, "synthesize", "--services", str(n)], check=True, stdout=f)

    if a.before:
        with tempfile.TemporaryDirectory(prefix="cperf-", dir=root) as work:
            versus(a, work, synth, sizes)
        return
    with tempfile.TemporaryDirectory(prefix="cperf-", dir=root) as work:
        print("\n### compile (whole process)\n")
        print("| services | files | bytes | fresh wall | fresh CPU | fresh peak RSS | cp -r wall "
              "| fresh / cp -r (wall) | fresh / cp -r (CPU) | recompile wall | fresh + kustomize wall "
              "| fresh + kustomize peak RSS |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in sizes(a.services):
            synth(work, n)
            print(compile_rows(m, work, n, a.runs), flush=True)
        print("\n### helm template: generated chart vs the same objects as plain YAML\n")
        print("| services | objects | generated wall | generated CPU | plain wall | plain CPU "
              "| generated / plain (wall) | generated / plain (CPU) | peak RSS generated / plain |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in sizes(a.helm_services):
            synth(work, n)
            print(helm_row(m, helm, work, n, a.runs), flush=True)
        print(f"\n### kubectl kustomize of every overlay (each run capped at {a.cap:.0f} s)\n")
        print("| services | overlay | parts | objects | per part wall | per part CPU | total wall | total CPU "
              "| peak RSS | load |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in sizes(a.kustomize_services):
            synth(work, n)
            runs = min(a.runs, 3)
            for row in kustomize_rows(m, kubectl, work, n, runs, a.cap):
                print(row, flush=True)


def versus(a, work, synth, sizes):
    """The before/after tables (--before)."""
    print(f"before: {a.before}; after: {a.meshpack}")
    print("\n### compile fresh, before vs after (alternating), and cp -r of each output\n")
    print("| services | files before / after | wall before | wall after | CPU before | CPU after "
          "| after / before (wall) | after / before (CPU) | peak RSS before / after "
          "| cp -r before | cp -r after | before / its cp -r (wall) | after / its cp -r (wall) | load |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes(a.services):
        synth(work, n)
        print(versus_row(a.before, a.meshpack, work, n, a.runs), flush=True)
    print("\n### helm template (istio on): before's chart, after's chart, plain YAML of the same objects\n")
    print("| services | helm | CPU before | CPU after | CPU plain | before / plain (wall) | before / plain (CPU) "
          "| after / plain (wall) | after / plain (CPU) | after / before (CPU) "
          "| peak RSS before / after / plain | load |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes(a.helm_services):
        synth(work, n)
        for h in ("helm3", "helm4"):
            print(helm_versus_row(a.before, a.meshpack, os.path.join(a.tools, h, "helm"), work, n, a.runs), flush=True)
    print(f"\n### kubectl kustomize of every overlay, before vs after (all parts per round, alternating; "
          f"each build capped at {a.cap:.0f} s)\n")
    print("| services | overlay | parts before / after | same objects | total wall before | total wall after "
          "| total CPU before | total CPU after | after / before (wall) | after / before (CPU) "
          "| peak RSS before / after | load |")
    print("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    kubectl = os.path.join(a.tools, "helm4", "kubectl")
    for n in sizes(a.kustomize_services):
        synth(work, n)
        for row in kustomize_versus_rows(a.before, a.meshpack, kubectl, work, n, a.runs, a.cap):
            print(row, flush=True)


if __name__ == "__main__":
    main()
