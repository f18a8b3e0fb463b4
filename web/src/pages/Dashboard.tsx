import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useTasks } from "../api/hooks";
import { Card, Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { Timeline } from "../components/Timeline";
import { Workers } from "../components/Workers";
import { secs } from "../lib/format";
import type { TimelineRow } from "../lib/timeline";

/** Nested values as "a.b" / "list[0].c" keys: every figure readable without JSON braces. */
export function flatten(value: unknown, prefix = ""): [string, string][] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [[prefix, "none"]];
    return value.flatMap((v, i) => flatten(v, `${prefix}[${i}]`));
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [[prefix, "none"]];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  if (typeof value === "number") return [[prefix, Number.isInteger(value) ? String(value) : value.toFixed(2)]];
  return [[prefix, value === null || value === undefined ? "–" : String(value)]];
}

function Json({ value }: { value: unknown }) {
  return (
    <table className="w-full text-xs">
      <tbody>
        {flatten(value).map(([k, v]) => (
          <tr key={k} className="border-b border-slate-100 last:border-0">
            <td className="py-0.5 pr-2 text-slate-500">{k.replaceAll("_", " ")}</td>
            <td className="py-0.5 text-right font-mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Dashboard() {
  const stats = useQuery({
    queryKey: ["db-stats"],
    queryFn: () => unwrap(api.GET("/api/dashboard/db-statistics")),
    refetchInterval: 5000,
  });
  const workers = useQuery({
    queryKey: ["workers"],
    queryFn: () => unwrap(api.GET("/api/dashboard/worker-status")),
    refetchInterval: 5000,
  });
  const members = useQuery({
    queryKey: ["worker-list"],
    queryFn: () => unwrap(api.GET("/api/workers/")),
    refetchInterval: 5000,
  });
  const gpus = useQuery({ queryKey: ["gpus"], queryFn: () => unwrap(api.GET("/api/dashboard/gpu-status")) });
  const timeline = useQuery({
    queryKey: ["timeline"],
    queryFn: () => unwrap(api.GET("/api/dashboard/experiment-timeline", { params: { query: { limit: 200 } } })),
    refetchInterval: 5000,
  });
  const tasks = useTasks();
  const timelineRows = (Array.isArray(timeline.data) ? timeline.data : []) as TimelineRow[];
  return (
    <div className="grid gap-4 md:grid-cols-3">
      <Card title="Database">
        {stats.isPending ? <Loading /> : stats.isError ? <ErrorBox error={stats.error} /> : <Json value={stats.data} />}
      </Card>
      <Card title="Workers">
        {workers.isPending ? (
          <Loading />
        ) : workers.isError ? (
          <ErrorBox error={workers.error} />
        ) : (
          <Json value={workers.data} />
        )}
      </Card>
      <Card title="GPUs">
        {gpus.isPending ? <Loading /> : gpus.isError ? <ErrorBox error={gpus.error} /> : <Json value={gpus.data} />}
      </Card>
      <div className="md:col-span-3">
        <Card title="Workers and what they measure">
          {members.isPending ? (
            <Loading />
          ) : members.isError ? (
            <ErrorBox error={members.error} />
          ) : (
            <Workers workers={members.data} />
          )}
        </Card>
      </div>
      <div className="md:col-span-3">
        <Card title="Recent tasks">
          {tasks.isPending ? (
            <Loading />
          ) : tasks.isError ? (
            <ErrorBox error={tasks.error} />
          ) : tasks.data.length === 0 ? (
            <Empty>
              No tasks yet.{" "}
              <Link className="text-blue-700 underline" to="/tasks/new">
                Create one
              </Link>
              .
            </Empty>
          ) : (
            <ul className="space-y-1 text-sm">
              {tasks.data.slice(0, 10).map((t) => (
                <li key={t.id} className="flex items-center gap-2">
                  <StatusBadge status={t.status} />
                  <Link className="text-blue-700 underline" to={`/tasks/${t.id}`}>
                    {t.name}
                  </Link>
                  <span className="text-slate-500">
                    {t.experiments_total} of {t.experiments_planned || "?"} · {secs(t.elapsed)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <div className="md:col-span-3">
        <Card title="Experiment timeline (24 h, the 200 latest)">
          {timeline.isPending ? (
            <Loading />
          ) : timeline.isError ? (
            <ErrorBox error={timeline.error} />
          ) : timelineRows.length === 0 ? (
            <Empty>No experiments in the last 24 hours.</Empty>
          ) : (
            <Timeline rows={timelineRows} />
          )}
        </Card>
      </div>
    </div>
  );
}
