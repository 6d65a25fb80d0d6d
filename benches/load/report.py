#!/usr/bin/env python3
"""Turns a loadbench --json file into the Markdown tables of BENCHMARKS.md.

    python3 benches/load/report.py results.json > table.md
"""

import json
import sys


def main():
    with open(sys.argv[1]) as f:
        run = json.load(f)
    m, c = run["machine"], run["ceilings"]
    out = [
        f"Run {run['started']} on {m['cores']} cores ({m['cpu']}), {m['memory_mib']:,} MiB; "
        f"{run['args']['connections']} connections, {run['args']['duration']} s per scenario.",
        "",
        f"Ceilings at the start (same cluster, same connection count): `pgbench -S -M prepared` "
        f"**{c['S']:,.0f} tps**, `pgbench -N -M prepared` **{c['N']:,.0f} tps**.",
        "",
    ]
    for backend in ("postgres", "sqlite"):
        rows = [r for r in run["results"] if r["backend"] == backend and not r.get("suite")]
        for size in sorted({r["size"] for r in rows}):
            out += [f"### {backend}, {size:,} users", ""]
            at = run.get("ceilings_by_size", {}).get(str(size))
            if backend == "postgres" and at:
                out += [f"Ceilings measured just before this size: `-S` **{at['S']:,.0f} tps**, "
                        f"`-N` **{at['N']:,.0f} tps**.", ""]
                if "F" in at:
                    reads = "; ".join(f"{r['key']} at **{r['of_floor']:.2f}** of it" for r in rows
                                      if r["size"] == size and r["key"] in ("S2", "S3")
                                      and r.get("of_floor"))
                    out += [f"Floor (F0: one SELECT behind bare axum + sqlx, no auth or rendering): "
                            f"**{at['F']:,.0f} req/s**" + (f"; {reads}." if reads else "."), ""]
            out += [
                "| scenario | req/s | p50 ms | p99 ms | scimd CPU ms/req | Postgres CPU ms/req "
                "| peak RSS MiB | wrk CPU | ratio to ceiling | errors |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in (r for r in rows if r["size"] == size):
                ratio = f"{r['ratio']:.2f} of -{r['ceiling']}" if r.get("ratio") is not None else "-"
                # Negative when a postgres process (autovacuum) ended mid-scenario: unknown.
                db = (f"{r['db_cpu_ms_per_req']:.3f}"
                      if backend == "postgres" and r["db_cpu_ms_per_req"] >= 0 else "-")
                out.append(
                    f"| {r['key']} {r['label']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
                    f"{r['p99_ms']:.2f} | {r['server_cpu_ms_per_req']:.3f} | {db} | "
                    f"{r['peak_rss_mib']:.1f} | {r['wrk_cpu_pct']:.0f}% | {ratio} | {r['errors']} |")
            out.append("")
    young = [r for r in run["results"] if r.get("suite") == "young"]
    for backend in ("postgres", "sqlite"):
        rows = [r for r in young if r["backend"] == backend]
        for size in sorted({r["size"] for r in rows}):
            out += [f"### {backend}, {size:,} users provisioned through POST /Users on a fresh "
                    f"database (issue 21)", ""]
            states = []
            for r in rows:
                if r["size"] == size and r.get("table_state") and r["key"] == "Y2":
                    states.append(f"{r['phase']}: {r['table_state']}")
            if states:
                out += ["Planner's view of `resources` before each phase: "
                        + "; ".join(states) + ".", ""]
            out += [
                "| scenario | req/s | p50 ms | p99 ms | scimd CPU ms/req | Postgres CPU ms/req "
                "| peak RSS MiB | wrk CPU | errors |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in (r for r in rows if r["size"] == size):
                db = (f"{r['db_cpu_ms_per_req']:.3f}"
                      if backend == "postgres" and r["db_cpu_ms_per_req"] >= 0 else "-")
                out.append(
                    f"| {r['key']} {r['label']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
                    f"{r['p99_ms']:.2f} | {r['server_cpu_ms_per_req']:.3f} | {db} | "
                    f"{r['peak_rss_mib']:.1f} | {r['wrk_cpu_pct']:.0f}% | {r['errors']} |")
            out.append("")
    if run.get("startup_s") is not None:
        out.append(f"Ready to serve after a restart on the migrated database: "
                   f"**{run['startup_s'] * 1000:.0f} ms**.")
        out.append("")
    def lines(title, budget):
        if not budget:
            return []
        rows = [f"### {title}", ""]
        for b in budget:
            state = b["state"] if b["state"] != "not held" else "**not held**"
            at = f"{b['size']:,} users: " if b.get("size") else ""
            rows.append(f"- {state}: {at}{b['line']} ({b['detail']})")
        return rows + [""]

    out += lines("Budget (issue 14 §4, ratios within this run)", run.get("budget14"))
    out += lines("Budget (issue 21, reads right after provisioning vs settled)",
                 run.get("budget_young"))
    out += lines("Budget (issue 6, largest Postgres size)",
                 [{"state": "held" if b["holds"] else "not held", **b} for b in run["budget"]])
    if run.get("floor"):
        out.append(f"For scale: {run['floor']}.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
