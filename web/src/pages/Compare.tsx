// Several tasks side by side: what each ran, what it recommends (mean ± 95% CI) and its gain over its baseline.
import { useQueries } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { keys } from "../api/hooks";
import { Card, Empty, ErrorBox, Loading } from "../components/States";
import { compareRows, parseIds } from "../lib/compare";

export function Compare() {
  const [params] = useSearchParams();
  const ids = parseIds(params.get("ids"));
  const tasks = useQueries({
    queries: ids.map((id) => ({
      queryKey: keys.task(id),
      queryFn: () => unwrap(api.GET("/api/tasks/{task_id}", { params: { path: { task_id: id } } })),
    })),
  });
  const summaries = useQueries({
    queries: ids.map((id) => ({
      queryKey: keys.summary(id),
      queryFn: () => unwrap(api.GET("/api/tasks/{task_id}/summary", { params: { path: { task_id: id } } })),
    })),
  });
  if (ids.length < 2)
    return (
      <Card title="Compare tasks">
        <Empty>
          Pick two or more tasks on the{" "}
          <Link className="text-blue-700 underline" to="/tasks">
            task list
          </Link>{" "}
          to compare them.
        </Empty>
      </Card>
    );
  const failed = tasks.find((q) => q.isError);
  if (failed) return <ErrorBox error={failed.error} />;
  if (tasks.some((q) => q.isPending)) return <Loading what="Loading tasks" />;
  const loaded = tasks.map((q) => q.data!);
  const rows = compareRows(
    loaded,
    summaries.map((q) => q.data),
  );
  return (
    <Card title={`Compare ${loaded.length} tasks`}>
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="compare-table">
          <thead className="border-b border-slate-200 text-xs text-slate-500">
            <tr>
              <th className="px-2 py-1" />
              {loaded.map((t) => (
                <th key={t.id} className="px-2 py-1">
                  <Link className="text-blue-700 underline" to={`/tasks/${t.id}`}>
                    {t.name}
                  </Link>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.label} className="border-b border-slate-100 align-top">
                <th className="whitespace-nowrap px-2 py-1 text-xs font-medium text-slate-500">{r.label}</th>
                {r.values.map((v, i) => (
                  <td
                    key={i}
                    className={`px-2 py-1 tabular-nums ${r.best === i ? "font-semibold text-green-700" : ""}`}
                    data-testid={r.best === i ? "compare-best" : undefined}
                  >
                    {v}
                    {r.best === i && " ★"}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="mt-2 text-xs text-slate-500">
        ★ the best recommended objective (only when every task optimises the same objective). Intervals are 95% CI over
        the repeats; compare them, not single numbers.
      </p>
    </Card>
  );
}
