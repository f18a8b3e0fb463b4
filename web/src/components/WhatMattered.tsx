import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Line,
  LineChart,
  ReferenceDot,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Experiment, Importance } from "../api/client";
import { useTaskImportance } from "../api/hooks";
import { OBJECTIVE_LABEL } from "../lib/experiments";
import { importanceRows, parallelOf, sliceOf, variedParams } from "../lib/mattered";
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
  index = 0,
}: {
  experiments: Experiment[];
  objective: string;
  /** Parameters in the order to offer them (the most important first); default: the varied ones. */
  params?: string[];
  /** Which of the task's objectives `objective` is (0: the primary one). */
  index?: number;
}) {
  const varied = variedParams(experiments);
  const order = [...(params ?? []).filter((p) => varied.includes(p)), ...varied.filter((p) => !params?.includes(p))];
  const [picked, setPicked] = useState<string | null>(null);
  const param = picked && order.includes(picked) ? picked : order[0];
  if (!param) return <Empty>No parameter took more than one value in a measured experiment yet.</Empty>;
  const ax = objectiveAxis(objective);
  const slice = sliceOf(experiments, param, ax.scale, index);
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

/** Colour of an experiment's line: light for the worst, deep blue for the best. */
function rankColor(rank: number): string {
  const mix = (a: number, b: number) => Math.round(a + (b - a) * rank);
  return `rgb(${mix(203, 29)},${mix(213, 78)},${mix(225, 216)})`;
}

/** Parallel coordinates: every varied parameter (the most important first) and the objective as vertical axes, one
 * line per measured experiment through its values, the better the darker (the best drawn last, on top). */
export function ParallelChart({
  experiments,
  objective,
  params,
  index = 0,
}: {
  experiments: Experiment[];
  objective: string;
  params?: string[];
  index?: number;
}) {
  const varied = variedParams(experiments);
  const order = [...(params ?? []).filter((p) => varied.includes(p)), ...varied.filter((p) => !params?.includes(p))];
  if (order.length === 0) return <Empty>No parameter took more than one value in a measured experiment yet.</Empty>;
  const ax = objectiveAxis(objective);
  const name = `${ax.name}${ax.unit ? ` (${ax.unit.trim()})` : ""}`;
  const par = parallelOf(experiments, order, name, {
    index,
    scale: ax.scale,
    maximize: OBJECTIVE_LABEL[objective]?.maximize ?? true,
  });
  const lines = [...par.lines].sort((a, b) => a.rank - b.rank);
  const best = lines[lines.length - 1];
  return (
    <div
      data-testid="chart-parallel"
      data-axes={par.axes.map((a) => a.name).join(",")}
      data-lines={lines.length}
      data-best={best?.number ?? ""}
      style={{ height: H + 40 }}
    >
      <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: INITIAL.width, height: H + 40 }}>
        <LineChart data={par.rows} margin={{ top: 12, right: 64, left: 56, bottom: 4 }}>
          <XAxis dataKey="axis" type="category" interval={0} tick={{ fontSize: 11 }} />
          <YAxis type="number" domain={[0, 1]} hide />
          {par.axes.map((a) => (
            <ReferenceLine key={`axis-${a.name}`} x={a.name} stroke="#94a3b8" />
          ))}
          {lines.map((l) => (
            <Line
              key={l.key}
              dataKey={l.key}
              name={`#${l.number}`}
              stroke={rankColor(l.rank)}
              strokeWidth={l === best ? 2.5 : 1.2}
              dot={false}
              isAnimationActive={false}
            />
          ))}
          {par.axes.flatMap((a) =>
            a.labels.map((t) => (
              <ReferenceDot
                key={`tick-${a.name}-${t.text}`}
                x={a.name}
                y={t.pos}
                r={2}
                fill="#475569"
                stroke="none"
                label={{ value: t.text, position: "right", fontSize: 10, fill: "#334155" }}
              />
            )),
          )}
        </LineChart>
      </ResponsiveContainer>
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
  index = 0,
}: {
  importance: Importance | undefined;
  experiments: Experiment[];
  objective: string;
  /** Which of the task's objectives `objective` is (0: the primary one). */
  index?: number;
}) {
  const ranked = importance ? importanceRows(importance.importances).map((r) => r.name) : [];
  return (
    <div className="space-y-4">
      <div className="grid gap-4 lg:grid-cols-2">
        <div>
          <h3 className="mb-1 text-sm font-medium">Parameter importance</h3>
          {importance ? <ImportanceBars importance={importance} /> : <Loading what="Computing importance" />}
        </div>
        <div>
          <h3 className="mb-1 text-sm font-medium">{axisTitle(objective)} by parameter value</h3>
          <SliceChart experiments={experiments} objective={objective} params={ranked} index={index} />
        </div>
      </div>
      <div>
        <h3 className="mb-1 text-sm font-medium">
          Parameters and {axisTitle(objective)}: one line per measured experiment, the best darkest
        </h3>
        <ParallelChart experiments={experiments} objective={objective} params={ranked} index={index} />
      </div>
    </div>
  );
}

export function WhatMatteredCard({
  taskId,
  experiments,
  objective,
  objectives = [objective],
}: {
  taskId: number;
  experiments: Experiment[];
  objective: string;
  /** Every objective of the task, the primary one first (multi-objective tasks get a picker). */
  objectives?: string[];
}) {
  const [index, setIndex] = useState(0);
  const chosen = objectives[index] ?? objective;
  const importance = useTaskImportance(taskId, index > 0 ? chosen : undefined);
  const picker =
    objectives.length > 1 ? (
      <label className="flex items-center gap-2 text-sm">
        <span className="text-slate-500">Objective</span>
        <select
          aria-label="Objective"
          className="rounded border border-slate-300 px-2 py-1"
          value={index}
          onChange={(e) => setIndex(Number(e.target.value))}
        >
          {objectives.map((o, i) => (
            <option key={o} value={i}>
              {o}
            </option>
          ))}
        </select>
      </label>
    ) : undefined;
  return (
    <Card title="What mattered" actions={picker}>
      {importance.isError ? (
        <ErrorBox error={importance.error} retry={() => void importance.refetch()} />
      ) : (
        <WhatMattered importance={importance.data} experiments={experiments} objective={chosen} index={index} />
      )}
    </Card>
  );
}
