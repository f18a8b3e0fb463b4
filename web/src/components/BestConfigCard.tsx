import { Link } from "react-router-dom";
import type { Experiment } from "../api/client";
import { OBJECTIVE_LABEL } from "../lib/experiments";
import { fig, ms, num, paramsText } from "../lib/format";
import { Card, Empty } from "./States";

export function BestConfigCard({ best, objective }: { best: Experiment | undefined; objective: string }) {
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
      </dl>
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
