import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import type { Experiment } from "../api/client";
import { auditOf } from "../lib/audit";
import { gpusOf } from "../lib/experiments";
import { fig, ms, num, paramsText, secs } from "../lib/format";
import { Empty, StatusBadge } from "./States";

const ORIGIN_COLORS: Record<string, string> = {
  search: "bg-slate-100 text-slate-700",
  baseline: "bg-sky-100 text-sky-800",
  warm_start: "bg-teal-100 text-teal-800",
  repeat: "bg-indigo-100 text-indigo-800",
};

const ORIGIN_TITLES: Record<string, string> = {
  search: "proposed by the search strategy",
  baseline: "the engine's default (or your current) configuration: the reference for the gain",
  warm_start: "a best configuration of an earlier task, measured first",
  repeat: "a configuration measured again for its confidence interval",
};

/** "suspect" / "client-bound" (x attempts) for an experiment whose runs the audit doubted; why on hover. */
export function AuditBadge({ experiment }: { experiment: Pick<Experiment, "runs"> }) {
  const a = auditOf(experiment);
  if (!a) return null;
  const bad = a.mark.includes("client-bound");
  return (
    <span
      data-testid="audit"
      title={a.reasons.join("; ") || "measured again"}
      className={`inline-block rounded px-1.5 py-0.5 text-xs ${bad ? "bg-red-100 text-red-800" : "bg-amber-100 text-amber-800"}`}
    >
      {a.mark}
    </span>
  );
}

export function OriginBadge({ origin }: { origin: string }) {
  return (
    <span
      data-testid="origin"
      title={ORIGIN_TITLES[origin]}
      className={`inline-block rounded px-2 py-0.5 text-xs ${ORIGIN_COLORS[origin] ?? "bg-slate-100 text-slate-700"}`}
    >
      {origin.replace("_", " ")}
    </span>
  );
}

type Col = {
  key: string;
  label: string;
  value: (e: Experiment) => number | string | null;
  show: (e: Experiment) => string;
};

const COLUMNS: Col[] = [
  { key: "number", label: "#", value: (e) => e.number, show: (e) => String(e.number) },
  { key: "status", label: "Status", value: (e) => e.status, show: (e) => e.status },
  { key: "origin", label: "Origin", value: (e) => e.origin, show: (e) => e.origin },
  { key: "params", label: "Parameters", value: (e) => paramsText(e.params), show: (e) => paramsText(e.params) },
  {
    key: "throughput",
    label: "Throughput (tok/s)",
    value: (e) => fig(e.figures, "total_throughput"),
    show: (e) => num(fig(e.figures, "total_throughput")),
  },
  {
    key: "ttft",
    label: "TTFT",
    value: (e) => fig(e.figures, "mean_ttft"),
    show: (e) => ms(fig(e.figures, "mean_ttft")),
  },
  {
    key: "tpot",
    label: "TPOT",
    value: (e) => fig(e.figures, "mean_tpot"),
    show: (e) => ms(fig(e.figures, "mean_tpot")),
  },
  {
    key: "e2e",
    label: "E2E p90",
    value: (e) => fig(e.figures, "p90_e2e_latency"),
    show: (e) => ms(fig(e.figures, "p90_e2e_latency"), 0),
  },
  { key: "gpus", label: "GPUs", value: (e) => gpusOf(e), show: (e) => String(gpusOf(e)) },
  {
    key: "per_gpu",
    label: "Per-GPU (tok/s)",
    value: (e) => fig(e.figures, "per_gpu_throughput"),
    show: (e) => num(fig(e.figures, "per_gpu_throughput")),
  },
  { key: "objective", label: "Objective", value: (e) => e.objective_value, show: (e) => num(e.objective_value, 3) },
  { key: "score", label: "Score", value: (e) => e.score, show: (e) => num(e.score, 3) },
  { key: "duration", label: "Duration", value: (e) => e.duration, show: (e) => secs(e.duration) },
];

/** The quality guardrail's figures vs its reference configuration (docs/quality.md); shown when a task probes. */
export const QUALITY_COLUMNS: Col[] = [
  {
    key: "quality_top1",
    label: "Top-1 agree",
    value: (e) => fig(e.figures, "quality_top1"),
    show: (e) => num(fig(e.figures, "quality_top1"), 3),
  },
  {
    key: "quality_kl",
    label: "KL (nats)",
    value: (e) => fig(e.figures, "quality_kl"),
    show: (e) => num(fig(e.figures, "quality_kl"), 4),
  },
];

export function hasQuality(experiments: Pick<Experiment, "figures">[]): boolean {
  return experiments.some((e) => fig(e.figures, "quality_probe_seconds") !== null);
}

function compare(a: number | string | null, b: number | string | null): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1; // nulls last
  if (b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

export function ExperimentTable({
  experiments,
  bestId,
  taskId,
}: {
  experiments: Experiment[];
  bestId?: number | null;
  taskId: number;
}) {
  const [sort, setSort] = useState<{ key: string; asc: boolean }>({ key: "number", asc: true });
  const [filter, setFilter] = useState("");
  const [status, setStatus] = useState("");
  const columns = useMemo(() => {
    if (!hasQuality(experiments)) return COLUMNS;
    const at = COLUMNS.findIndex((c) => c.key === "objective");
    return [...COLUMNS.slice(0, at), ...QUALITY_COLUMNS, ...COLUMNS.slice(at)];
  }, [experiments]);
  const rows = useMemo(() => {
    const col = columns.find((c) => c.key === sort.key) ?? columns[0]!;
    const f = filter.trim().toLowerCase();
    return experiments
      .filter((e) => !status || e.status === status)
      .filter((e) => !f || paramsText(e.params).toLowerCase().includes(f))
      .sort((a, b) => {
        const c = compare(col.value(a), col.value(b));
        return sort.asc ? c : -c;
      });
  }, [experiments, columns, sort, filter, status]);
  const statuses = [...new Set(experiments.map((e) => e.status))];

  if (!experiments.length) return <Empty>No experiments yet. They appear here live as the task runs.</Empty>;
  return (
    <div>
      <div className="mb-2 flex gap-2">
        <input
          aria-label="Filter parameters"
          placeholder="Filter parameters (e.g. parallel=2)"
          className="w-64 rounded border border-slate-300 px-2 py-1 text-sm"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <select
          aria-label="Filter status"
          className="rounded border border-slate-300 px-2 py-1 text-sm"
          value={status}
          onChange={(e) => setStatus(e.target.value)}
        >
          <option value="">all statuses</option>
          {statuses.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="experiment-table">
          <thead className="border-b border-slate-200 text-xs text-slate-500">
            <tr>
              {columns.map((c) => (
                <th key={c.key} className="px-2 py-1 whitespace-nowrap">
                  <button
                    className="hover:text-slate-900"
                    onClick={() => setSort((s) => ({ key: c.key, asc: s.key === c.key ? !s.asc : true }))}
                  >
                    {c.label}
                    {sort.key === c.key ? (sort.asc ? " ▲" : " ▼") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.id} className={`border-b border-slate-100 ${e.id === bestId ? "bg-green-50" : ""}`}>
                {columns.map((c) => (
                  <td key={c.key} className="px-2 py-1 whitespace-nowrap">
                    {c.key === "number" ? (
                      <Link className="text-blue-700 underline" to={`/tasks/${taskId}/experiments/${e.id}`}>
                        {e.number}
                        {e.id === bestId ? " ★" : ""}
                      </Link>
                    ) : c.key === "status" ? (
                      <span className="flex items-center gap-1">
                        <StatusBadge status={e.status} />
                        <AuditBadge experiment={e} />
                        {e.pareto && (
                          <span title="on the Pareto front" className="text-xs text-red-600">
                            ◆
                          </span>
                        )}
                      </span>
                    ) : c.key === "origin" ? (
                      <OriginBadge origin={e.origin} />
                    ) : c.key === "params" ? (
                      <code className="text-xs">{c.show(e)}</code>
                    ) : (
                      c.show(e)
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
