import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useTasks } from "../api/hooks";
import { Card, Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { secs, when } from "../lib/format";

function Json({ value }: { value: unknown }) {
  return <pre className="overflow-x-auto text-xs">{JSON.stringify(value, null, 2)}</pre>;
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
  const gpus = useQuery({ queryKey: ["gpus"], queryFn: () => unwrap(api.GET("/api/dashboard/gpu-status")) });
  const timeline = useQuery({
    queryKey: ["timeline"],
    queryFn: () => unwrap(api.GET("/api/dashboard/experiment-timeline", { params: { query: { limit: 30 } } })),
    refetchInterval: 5000,
  });
  const tasks = useTasks();
  const timelineRows = (Array.isArray(timeline.data) ? timeline.data : []) as Record<string, unknown>[];
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
      <div className="md:col-span-2">
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
      <Card title="Experiment timeline (24 h)">
        {timeline.isPending ? (
          <Loading />
        ) : timeline.isError ? (
          <ErrorBox error={timeline.error} />
        ) : timelineRows.length === 0 ? (
          <Empty>No experiments in the last 24 hours.</Empty>
        ) : (
          <ul className="space-y-1 text-xs">
            {timelineRows.map((r, i) => (
              <li key={i} className="flex gap-2">
                <StatusBadge status={String(r.status ?? "")} />
                <span>{String(r.task_name ?? r.task_id ?? "")}</span>
                <span>#{String(r.number ?? "")}</span>
                <span className="text-slate-500">{when(r.started_at as string | null)}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
