// Several tasks side by side: what each ran, what it recommends (mean ± 95% CI) and its gain over its baseline.
import { useQueries } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { keys } from "../api/hooks";
import { Card, Empty, ErrorBox, Loading } from "../components/States";
import { compareRows, parseIds, provenanceDiffs } from "../lib/compare";

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
  const provenance = useQueries({
    queries: ids.map((id) => ({
      queryKey: [...keys.task(id), "provenance"],
      queryFn: () => unwrap(api.GET("/api/tasks/{task_id}/provenance", { params: { path: { task_id: id } } })),
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
  const prov = provenance.every((q) => q.data)
    ? provenanceDiffs(loaded.map((t, i) => ({ name: t.name, provenance: provenance[i]?.data?.provenance })))
    : null;
  return (
    <Card title={`Compare ${loaded.length} tasks`}>
      {prov && (prov.diffs.length > 0 || prov.missing.length > 0) && (
        <div
          className="mb-3 rounded border-l-4 border-amber-500 bg-amber-50 p-2 text-sm text-amber-900"
          data-testid="provenance-warning"
        >
          {prov.diffs.length > 0 && (
            <>
              <p className="font-medium">
                Provenance differs: these results come from different setups and may not be comparable.
              </p>
              <ul className="mt-1 list-disc pl-5 font-mono text-xs">
                {prov.diffs.map((d) => (
                  <li key={d.field} data-testid="provenance-diff">
                    {d.field}: {d.values.join(" vs ")}
                  </li>
                ))}
              </ul>
            </>
          )}
          {prov.missing.length > 0 && (
            <p className="mt-1">No provenance recorded for {prov.missing.join(", ")} (measured before it was kept).</p>
          )}
        </div>
      )}
      {prov && prov.diffs.length === 0 && prov.missing.length === 0 && (
        <p className="mb-2 text-xs text-green-700" data-testid="provenance-same">
          Same provenance (engine, tools, host, GPUs, workload, tuner revision).
        </p>
      )}
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
