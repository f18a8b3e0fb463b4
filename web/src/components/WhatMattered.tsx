import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Experiment, Importance } from "../api/client";
import { useTaskImportance } from "../api/hooks";
import { importanceRows, sliceOf, variedParams } from "../lib/mattered";
import { INITIAL, objectiveAxis } from "./Charts";
import { Card, Empty, ErrorBox, Loading } from "./States";

const H = 240;

/** Parameter importance as horizontal bars (share of the total, most important on top). */
export function ImportanceBars({ importance }: { importance: Importance }) {
  const rows = importanceRows(importance.importances);
  if (rows.length === 0) return <Empty>{importance.note ?? "No parameter importance yet."}</Empty>;
  const height = Math.max(120, 36 * rows.length + 40);
  return (
    <div>
      <div data-testid="chart-importance" data-params={rows.map((r) => r.name).join(",")} style={{ height }}>
        <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: INITIAL.width, height }}>
          <BarChart data={rows} layout="vertical" margin={{ left: 8, right: 16 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis type="number" unit=" %" domain={[0, 100]} />
            <YAxis type="category" dataKey="name" width={150} />
            <Tooltip formatter={(v) => [`${String(v)} %`, "importance"]} />
            <Bar dataKey="percent" name="importance" fill="#2563eb" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <p className="mt-1 text-xs text-slate-500">
        {importance.evaluator} on the task&apos;s study, for {importance.objective.name}
        {importance.predicted ? "; figures come from a performance model, not measurements" : ""}
        {importance.note ? `; ${importance.note}` : ""}
      </p>
    </div>
  );
}

/** Objective against one parameter's value (pick the parameter), one point per measured experiment. */
export function SliceChart({
  experiments,
  objective,
  params,
}: {
  experiments: Experiment[];
  objective: string;
  /** Parameters in the order to offer them (the most important first); default: the varied ones. */
  params?: string[];
}) {
  const varied = variedParams(experiments);
  const order = [...(params ?? []).filter((p) => varied.includes(p)), ...varied.filter((p) => !params?.includes(p))];
  const [picked, setPicked] = useState<string | null>(null);
  const param = picked && order.includes(picked) ? picked : order[0];
  if (!param) return <Empty>No parameter took more than one value in a measured experiment yet.</Empty>;
  const ax = objectiveAxis(objective);
  const slice = sliceOf(experiments, param, ax.scale);
  const values = [...new Set(slice.points.map((p) => p.x))].sort((a, b) => a - b);
  const xAxis = slice.numeric ? (
    <XAxis
      type="number"
      dataKey="x"
      name={param}
      domain={["dataMin", "dataMax"]}
      padding={{ left: 24, right: 24 }}
      allowDecimals={!values.every(Number.isInteger)}
      ticks={values.length <= 12 ? values : undefined}
    />
  ) : (
    <XAxis
      type="number"
      dataKey="x"
      name={param}
      domain={[-0.5, slice.labels.length - 0.5]}
      ticks={slice.labels.map((_, i) => i)}
      tickFormatter={(i: number) => slice.labels[i] ?? ""}
    />
  );
  return (
    <div>
      <label className="flex items-center gap-2 text-sm">
        <span className="text-slate-500">Parameter</span>
        <select
          aria-label="Slice parameter"
          className="rounded border border-slate-300 px-2 py-1"
          value={param}
          onChange={(e) => setPicked(e.target.value)}
        >
          {order.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <div data-testid="chart-slice" data-param={param} data-points={slice.points.length} style={{ height: H }}>
        <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL}>
          <ScatterChart margin={{ top: 8, right: 16 }}>
            <CartesianGrid strokeDasharray="3 3" />
            {xAxis}
            <YAxis type="number" dataKey="y" name={ax.name} width={60} />
            <Tooltip
              cursor={{ strokeDasharray: "3 3" }}
              formatter={(v, name) => (name === param ? (slice.points.find((p) => p.x === v)?.value ?? v) : v)}
            />
            <Scatter name={ax.name} data={slice.points} fill="#2563eb" isAnimationActive={false} />
          </ScatterChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
}

/** An objective's name with its display unit, for a chart's title (the ticks carry numbers only). */
function axisTitle(objective: string): string {
  const ax = objectiveAxis(objective);
  return `${ax.name}${ax.unit ? ` (${ax.unit.trim()})` : ""}`;
}

/** The pure part of the "What mattered" card (the page gives it the importance it fetched). */
export function WhatMattered({
  importance,
  experiments,
  objective,
}: {
  importance: Importance | undefined;
  experiments: Experiment[];
  objective: string;
}) {
  const ranked = importance ? importanceRows(importance.importances).map((r) => r.name) : [];
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <div>
        <h3 className="mb-1 text-sm font-medium">Parameter importance</h3>
        {importance ? <ImportanceBars importance={importance} /> : <Loading what="Computing importance" />}
      </div>
      <div>
        <h3 className="mb-1 text-sm font-medium">{axisTitle(objective)} by parameter value</h3>
        <SliceChart experiments={experiments} objective={objective} params={ranked} />
      </div>
    </div>
  );
}

export function WhatMatteredCard({
  taskId,
  experiments,
  objective,
}: {
  taskId: number;
  experiments: Experiment[];
  objective: string;
}) {
  const importance = useTaskImportance(taskId);
  return (
    <Card title="What mattered">
      {importance.isError ? (
        <ErrorBox error={importance.error} retry={() => void importance.refetch()} />
      ) : (
        <WhatMattered importance={importance.data} experiments={experiments} objective={objective} />
      )}
    </Card>
  );
}
