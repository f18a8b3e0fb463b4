import { Link } from "react-router-dom";
import type { Experiment, Gain, TaskSummary } from "../api/client";
import { OBJECTIVE_LABEL } from "../lib/experiments";
import { fig, ms, num, objective as objectiveText, paramsText } from "../lib/format";
import { Card, Empty } from "./States";

/** "+28.0%", with the rough 95 % interval when both sides were measured twice or more. */
export function gainText(gain: Pick<Gain, "value" | "ci_low" | "ci_high"> & Partial<Gain>): string {
  const pct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;
  const ci = gain.ci_low != null && gain.ci_high != null ? ` (95% CI ${pct(gain.ci_low)} to ${pct(gain.ci_high)})` : "";
  const how =
    gain.method === "paired" && gain.pairs
      ? `, paired over ${gain.pairs} interleaved baseline runs`
      : gain.method === "blocked" && gain.pairs
        ? `, measured side by side in ${gain.pairs} rounds`
        : "";
  return pct(gain.value) + ci + how;
}

const VERDICT_CLASS: Record<string, string> = {
  better: "font-semibold text-green-800",
  worse: "font-semibold text-red-800",
  no_difference: "font-semibold text-amber-800",
  baseline: "font-semibold text-slate-700",
};

/** Mean ± CI of the recommended configuration, the gain over the baseline, and what was not measured. */
function Recommendation({ summary, unit, taskId }: { summary: TaskSummary; unit: string | undefined; taskId: number }) {
  const rec = summary.recommended;
  const stats = rec?.objective;
  const base = summary.baseline;
  const half = stats?.ci_high != null ? stats.ci_high - stats.mean : null;
  return (
    <div className="mt-3 space-y-1 text-sm">
      {stats && rec && rec.n >= 2 && (
        <div data-testid="best-ci">
          <span className="text-slate-500">Mean over {rec.n} measurements: </span>
          <span className="font-semibold">
            {objectiveText(stats.mean, unit)}
            {half !== null && ` ± ${objectiveText(half, unit)}`}
          </span>
          {stats.ci_low != null && stats.ci_high != null && (
            <span className="text-slate-500">
              {" "}
              (95% CI {objectiveText(stats.ci_low, unit)} to {objectiveText(stats.ci_high, unit)})
            </span>
          )}
        </div>
      )}
      {summary.gain && base && (
        <div data-testid="best-gain">
          <span className="text-slate-500">Gain over the baseline </span>
          <Link className="text-blue-700 underline" to={`/tasks/${taskId}/experiments/${base.experiment_id}`}>
            #{base.number}
          </Link>
          <span className="text-slate-500">
            {" "}
            ({base.objective ? objectiveText(base.objective.mean, unit) : "–"}, n={base.n}):{" "}
          </span>
          <span className="font-semibold">{gainText(summary.gain)}</span>
        </div>
      )}
      {summary.verdict && (
        <div data-testid="best-verdict" className={VERDICT_CLASS[summary.verdict.kind] ?? ""}>
          {summary.verdict.text}
        </div>
      )}
      {summary.noise && (
        <div data-testid="noise-floor" className="text-slate-600">
          Noise floor: ±{(summary.noise.floor * 100).toFixed(1)}% at 95% (baseline measured {summary.noise.n} times, cv{" "}
          {(summary.noise.cv * 100).toFixed(1)}%); smaller differences are ties.
        </div>
      )}
      {summary.quality_rejections?.map((r) => (
        <div key={r} data-testid="quality-rejection" className="text-xs text-amber-700">
          {r}
        </div>
      ))}
      {summary.notes?.map((n) => (
        <div key={n} className="text-xs text-amber-700">
          {n}
        </div>
      ))}
    </div>
  );
}

export function BestConfigCard({
  best,
  objective,
  summary,
}: {
  best: Experiment | undefined;
  objective: string;
  summary?: TaskSummary | undefined;
}) {
  const info = OBJECTIVE_LABEL[objective];
  if (!best)
    return (
      <Card title="Best configuration">
        <Empty>No successful experiment yet.</Empty>
      </Card>
    );
  const copy = () => void navigator.clipboard?.writeText(best.launch_command ?? "");
  return (
    <Card
      title={
        <span data-testid="best-config">
          Best configuration: experiment{" "}
          <Link className="text-blue-700 underline" to={`/tasks/${best.task_id}/experiments/${best.id}`}>
            #{best.number}
          </Link>
        </span>
      }
    >
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm md:grid-cols-4">
        <dt className="text-slate-500">{info?.label ?? objective}</dt>
        <dd className="font-semibold">
          {num(best.objective_value, 3)} {info?.unit}
        </dd>
        <dt className="text-slate-500">Throughput</dt>
        <dd>{num(fig(best.figures, "total_throughput"))} tok/s</dd>
        <dt className="text-slate-500">Mean TTFT</dt>
        <dd>{ms(fig(best.figures, "mean_ttft"))}</dd>
        <dt className="text-slate-500">Mean TPOT</dt>
        <dd>{ms(fig(best.figures, "mean_tpot"))}</dd>
        {fig(best.figures, "quality_probe_seconds") !== null && (
          <>
            <dt className="text-slate-500" title="quality vs the reference configuration (docs/quality.md)">
              Quality: top-1 / KL
            </dt>
            <dd data-testid="best-quality">
              {num(fig(best.figures, "quality_top1"), 3)} / {num(fig(best.figures, "quality_kl"), 4)} nats
            </dd>
          </>
        )}
      </dl>
      {summary && <Recommendation summary={summary} unit={info?.unit} taskId={best.task_id} />}
      <div className="mt-3 text-sm">
        <span className="text-slate-500">Parameters: </span>
        <code>{paramsText(best.params)}</code>
      </div>
      {best.launch_command && (
        <div className="mt-3">
          <div className="mb-1 flex items-center justify-between text-xs text-slate-500">
            <span>Launch command</span>
            <button className="underline" onClick={copy}>
              copy
            </button>
          </div>
          <pre data-testid="launch-command" className="overflow-x-auto rounded bg-slate-900 p-2 text-xs text-slate-100">
            {best.launch_command}
          </pre>
        </div>
      )}
    </Card>
  );
}
