#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench -p liftwatch-benches --bench core`
run as a Markdown table (events/s and ns/event), read from Criterion's
target/criterion/*/new/{benchmark,estimates}.json.

Usage: python3 benches/summary.py [TARGET_DIR]   (default: target, or $CARGO_TARGET_DIR)
"""

import glob
import json
import os
import sys

ORDER = [
    "decode/decode_message/single_run",
    "decode/serde_json_value/single_run",
    "decode/serde_json_rawvalue/single_run",
    "decode/decode_message/array100_run",
    "decode/decode_message/array100_mixed",
    "decode/serde_json_value/array100_run",
    "decode/serde_json_rawvalue/array100_run",
    "decode_parts/decode_payload/single_run",
    "decode_parts/parse_rfc3339",
    "decode_parts/device_code_parse",
    "decode_parts/parse_topic",
    "decode_parts/fault_code_parse/known",
    "ledger/apply/new_runs",
    "ledger/apply/duplicate_runs",
    "ledger/apply/new_mixed",
    "rollup/add_assign/run_row",
    "rollup/add_assign/fault_row_by_code",
]
RATIOS = [
    ("decode/serde_json_value/array100_run", "decode/decode_message/array100_run"),
    ("decode/serde_json_value/single_run", "decode/decode_message/single_run"),
    ("decode/decode_message/array100_run", "decode/serde_json_rawvalue/array100_run"),
    ("decode/decode_message/single_run", "decode/serde_json_rawvalue/single_run"),
    ("decode/decode_message/single_run", "decode/decode_message/array100_run"),
    ("decode/decode_message/array100_run", "decode_parts/parse_rfc3339"),
    ("ledger/apply/new_runs", "ledger/apply/duplicate_runs"),
]


def rate(per_sec: float) -> str:
    if per_sec >= 1e6:
        return f"{per_sec / 1e6:.2f} M"
    return f"{per_sec / 1e3:.0f} k"


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
    rows = []
    for bench in glob.glob(os.path.join(target, "criterion", "*", "*", "new", "benchmark.json")):
        new = os.path.dirname(bench)
        with open(bench) as f:
            meta = json.load(f)
        with open(os.path.join(new, "estimates.json")) as f:
            est = json.load(f)
        elements = (meta.get("throughput") or {}).get("Elements", 1)
        med = est["median"]
        ns = med["point_estimate"] / elements
        lo = med["confidence_interval"]["lower_bound"] / elements
        hi = med["confidence_interval"]["upper_bound"] / elements
        name = meta["full_id"]
        order = ORDER.index(name) if name in ORDER else len(ORDER)
        rows.append((order, name, elements, ns, lo, hi))
    if not rows:
        sys.exit(f"no Criterion results under {target}/criterion; run the benchmarks first")
    print("| benchmark | events/iter | median ns/event | 95% CI of median | events/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for _, name, elements, ns, lo, hi in sorted(rows):
        print(f"| `{name}` | {elements} | {ns:.1f} | {lo:.1f}–{hi:.1f} | {rate(1e9 / ns)} |")
    by_name = {r[1]: r[3] for r in rows}
    print()
    print("| ratio (ns/event ÷ ns/event) | × |")
    print("| --- | ---: |")
    for a, b in RATIOS:
        if a in by_name and b in by_name:
            print(f"| `{a}` ÷ `{b}` | {by_name[a] / by_name[b]:.2f} |")


if __name__ == "__main__":
    main()
