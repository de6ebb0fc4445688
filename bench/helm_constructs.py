#!/usr/bin/env python3
"""What one template construct costs `helm template`, measured: for each
construct, a chart whose one template holds N copies of it (one per line,
`k<i>: <construct>`) against a chart holding the same N lines as plain text,
rendered alternately (pairs in one invocation) by each Helm given. Prints a
markdown table of the per-copy CPU cost (user+sys, microseconds; min/median/max
over the pairs of (construct - plain) / N) and the CPU ratio construct/plain.

  python3 bench/helm_constructs.py --helm /path/helm3 --helm /path/helm4 [--copies 3000] [--runs 5]

Everything is written under one temporary folder, removed at the end.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HELPERS = r'''{{- define "c.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "c.labels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}
{{- define "c.image" -}}
{{- $r := .image.registry | default .ctx.Values.global.imageRegistry -}}
{{- if .image.digest -}}{{ printf "%s/%s@%s" $r .image.repository .image.digest }}
{{- else -}}{{ printf "%s/%s:%s" $r .image.repository (.image.tag | default .ctx.Chart.AppVersion) }}{{- end -}}
{{- end -}}
'''

VALUES = """global:
  imageRegistry: ""
istio:
  version: "1.26"
image:
  registry: r.example
  repository: app
  tag: "1.0"
resources:
  limits: {cpu: 100m, memory: 128Mi}
  requests: {cpu: 50m, memory: 64Mi}
services:
  a: {replicas: 2}
"""

# name -> (per-file preamble, per-copy construct)
CONSTRUCTS = {
    "semverCompare per copy": ("", '{{ semverCompare ">=1.25-0" (toString $.Values.istio.version) }}'),
    "semverCompare bound once, $var per copy": ('{{- $sa := semverCompare ">=1.25-0" (toString $.Values.istio.version) }}\n', "{{ $sa }}"),
    "if semverCompare per copy": ("", '{{- if semverCompare ">=1.25-0" (toString $.Values.istio.version) }} x{{ else }} y{{ end }}'),
    "if $var per copy": ('{{- $sa := semverCompare ">=1.25-0" (toString $.Values.istio.version) }}\n', "{{- if $sa }} x{{ else }} y{{ end }}"),
    "include fullname per copy": ("", '{{ include "c.fullname" $ }}'),
    "$fullname per copy": ('{{- $fullname := include "c.fullname" $ }}\n', "{{ $fullname }}"),
    "include labels (dict) per copy": ("", '{{ include "c.labels" (dict "ctx" $) | quote }}'),
    "$labels per copy": ('{{- $labels := include "c.labels" (dict "ctx" $) }}\n', "{{ $labels | quote }}"),
    "include image helper per copy": ("", '{{ include "c.image" (dict "image" $.Values.image "ctx" $) | quote }}'),
    "index $.Values.services per copy": ("", '{{ (index $.Values.services "a").replicas }}'),
    "toYaml per copy": ("", "{{ toYaml $.Values.resources | quote }}"),
    "$.Release.Namespace per copy": ("", "{{ $.Release.Namespace }}"),
}


def chart(root, name, preamble, construct, n):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "templates"))
    with open(os.path.join(d, "Chart.yaml"), "w") as f:
        f.write(f"apiVersion: v2\nname: c\nversion: 0.1.0\nappVersion: '1.0'\n")
    with open(os.path.join(d, "values.yaml"), "w") as f:
        f.write(VALUES)
    with open(os.path.join(d, "templates", "_helpers.tpl"), "w") as f:
        f.write(HELPERS)
    with open(os.path.join(d, "templates", "t.yaml"), "w") as f:
        f.write(preamble)
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: |\n")
        for i in range(n):
            f.write(f"    k{i}: {construct}\n")
    return d


def cpu(cmd):
    pid = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(pid.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{pid.stderr.read().decode()}")
    return usage.ru_utime + usage.ru_stime


def spread(xs, fmt):
    xs = sorted(xs)
    return "/".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helm", action="append", required=True)
    ap.add_argument("--copies", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="hconstructs-")
    try:
        plain = chart(root, "plain", "", "v", a.copies)
        print(f"{a.copies} copies, {a.runs} pairs, load {os.getloadavg()[0]:.2f}")
        print("| construct | helm | per copy µs CPU (min/med/max) | CPU ratio vs plain |")
        print("|---|---|---|---|")
        for i, (name, (pre, c)) in enumerate(CONSTRUCTS.items()):
            d = chart(root, f"c{i}", pre, c, a.copies)
            for helm in a.helm:
                ver = "4" if "helm4" in helm else "3"
                per, ratio = [], []
                for _ in range(a.runs):
                    x = cpu([helm, "template", "r", d])
                    p = cpu([helm, "template", "r", plain])
                    per.append((x - p) / a.copies * 1e6)
                    ratio.append(x / p)
                print(f"| {name} | {ver} | {spread(per, '{:.1f}')} | {spread(ratio, '{:.2f}')} |", flush=True)
        print(f"load {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
