import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { getText } from "../api/client";
import { useExperiment } from "../api/hooks";
import { Card, Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { fig, ms, num, secs, when } from "../lib/format";
import { workloadLabel } from "../lib/workload";

type Run = Record<string, unknown> & {
  ttft?: Record<string, number>;
  tpot?: Record<string, number>;
  e2e?: Record<string, number>;
};

export function ExperimentDetail() {
  const params = useParams();
  const taskId = Number(params.taskId);
  const experimentId = Number(params.experimentId);
  const exp = useExperiment(experimentId);
  const logs = useQuery({
    queryKey: ["experiment-logs", experimentId],
    queryFn: () => getText(`/api/tasks/${taskId}/experiments/${experimentId}/logs?tail=400`),
    retry: false,
  });

  if (exp.isPending) return <Loading what="Loading experiment" />;
  if (exp.isError) return <ErrorBox error={exp.error} retry={() => void exp.refetch()} />;
  const e = exp.data;
  const runs = (e.runs ?? []) as Run[];
  const figures = e.figures ?? {};
  return (
    <div className="space-y-4">
      <Card
        title={
          <span className="flex items-center gap-2 text-base" data-testid="experiment-title">
            <Link className="text-blue-700 underline" to={`/tasks/${taskId}`}>
              Task {taskId}
            </Link>
            / Experiment {e.number} <StatusBadge status={e.status} />
          </span>
        }
      >
        <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm md:grid-cols-4">
          <dt className="text-slate-500">Objective value</dt>
          <dd>{num(e.objective_value, 3)}</dd>
          <dt className="text-slate-500">Score (lower is better)</dt>
          <dd>{num(e.score, 3)}</dd>
          <dt className="text-slate-500">Engine start-up</dt>
          <dd>{secs(e.startup_seconds)}</dd>
          <dt className="text-slate-500">Benchmark</dt>
          <dd>{secs(e.bench_seconds)}</dd>
          <dt className="text-slate-500">Started</dt>
          <dd>{when(e.started_at)}</dd>
          <dt className="text-slate-500">Duration</dt>
          <dd>{secs(e.duration)}</dd>
        </dl>
        {e.failure_reason && (
          <div role="alert" className="mt-3 rounded bg-red-50 p-2 text-sm text-red-800">
            Failure reason: {e.failure_reason}
          </div>
        )}
      </Card>
      <Card title="Parameters and launch command">
        <pre className="overflow-x-auto rounded bg-slate-100 p-2 text-xs">{JSON.stringify(e.params, null, 2)}</pre>
        {e.launch_argv ? (
          <pre data-testid="argv" className="mt-2 overflow-x-auto rounded bg-slate-900 p-2 text-xs text-slate-100">
            {e.launch_argv.map((a) => JSON.stringify(a)).join(" ")}
          </pre>
        ) : (
          <Empty>No launch command recorded.</Empty>
        )}
      </Card>
      <Card title="Aggregated figures">
        {Object.keys(figures).length === 0 ? (
          <Empty>No figures (the experiment did not finish measuring).</Empty>
        ) : (
          <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm md:grid-cols-4">
            {Object.keys(figures)
              .sort()
              .map((k) => (
                <div key={k} className="contents">
                  <dt className="text-slate-500">{k}</dt>
                  <dd>{/(ttft|tpot|itl|latency)/.test(k) ? ms(fig(figures, k)) : num(fig(figures, k), 3)}</dd>
                </div>
              ))}
          </dl>
        )}
      </Card>
      <Card title="Metrics per concurrency level">
        {runs.length === 0 ? (
          <Empty>No runs recorded.</Empty>
        ) : (
          <table className="w-full text-left text-sm" data-testid="runs-table">
            <thead className="border-b border-slate-200 text-xs text-slate-500">
              <tr>
                <th className="px-2 py-1">Scenario</th>
                <th className="px-2 py-1">Concurrency</th>
                <th className="px-2 py-1">Completed</th>
                <th className="px-2 py-1">Errors</th>
                <th className="px-2 py-1">Throughput (tok/s)</th>
                <th className="px-2 py-1">TTFT mean / p90</th>
                <th className="px-2 py-1">TPOT mean / p90</th>
                <th className="px-2 py-1">E2E mean / p99</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r, i) => (
                <tr key={i} className="border-b border-slate-100">
                  <td
                    className="px-2 py-1"
                    title={typeof r.workload_sha256 === "string" ? r.workload_sha256 : undefined}
                  >
                    {workloadLabel(r)}
                  </td>
                  <td className="px-2 py-1">{String(r.concurrency ?? r.request_rate ?? "")}</td>
                  <td className="px-2 py-1">
                    {String(r.completed ?? "")}/{String(r.total_requests ?? "")}
                  </td>
                  <td className="px-2 py-1">{String(r.errored ?? 0)}</td>
                  <td className="px-2 py-1">{num(r.total_throughput as number)}</td>
                  <td className="px-2 py-1">
                    {ms(r.ttft?.mean)} / {ms(r.ttft?.p90)}
                  </td>
                  <td className="px-2 py-1">
                    {ms(r.tpot?.mean)} / {ms(r.tpot?.p90)}
                  </td>
                  <td className="px-2 py-1">
                    {ms(r.e2e?.mean, 0)} / {ms(r.e2e?.p99, 0)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Engine log">
        {logs.isPending ? (
          <Loading what="Loading log" />
        ) : logs.isError ? (
          <ErrorBox error={logs.error} />
        ) : (
          <pre className="h-64 overflow-auto rounded bg-slate-900 p-2 text-xs text-slate-100">
            {logs.data || "(empty)"}
          </pre>
        )}
      </Card>
    </div>
  );
}
