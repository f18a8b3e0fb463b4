import {
  Bar,
  BarChart,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Experiment } from "../api/client";
import { OBJECTIVE_LABEL, gpusOf } from "../lib/experiments";
import { fig } from "../lib/format";
import { paretoFront } from "../lib/pareto";
import { Card, Empty } from "./States";

const H = 240;
// the size charts draw at before their container is measured (and in tests, where nothing is measured)
export const INITIAL = { width: 480, height: H };

function done(experiments: Experiment[]): Experiment[] {
  return experiments.filter((e) => e.status === "success" && e.figures).sort((a, b) => a.number - b.number);
}

/** Each measured experiment as a point (experiments are discrete: nothing is drawn between them) and the best value so
 * far as a step line that changes only when an experiment beats it. */
export function ObjectiveChart({ experiments, objective }: { experiments: Experiment[]; objective: string }) {
  const info = OBJECTIVE_LABEL[objective];
  const ax = objectiveAxis(objective);
  let best: number | null = null;
  const data = done(experiments).flatMap((e) => {
    const v = e.objective_value;
    if (v === null || v === undefined || !Number.isFinite(v)) return [];
    if (best === null || (info?.maximize ? v > best : v < best)) best = v;
    return [{ number: e.number, value: v * ax.scale, best: best * ax.scale }];
  });
  return (
    <Card title={`Objective over experiments: ${ax.name}${ax.unit ? ` (${ax.unit.trim()})` : ""}`}>
      {data.length === 0 ? (
        <Empty>Waiting for the first measured experiment.</Empty>
      ) : (
        <div data-testid="chart-objective" data-points={data.length} style={{ height: H }}>
          <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL}>
            <ComposedChart data={data}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis
                type="number"
                dataKey="number"
                domain={["dataMin", "dataMax"]}
                allowDecimals={false}
                label={{ value: "experiment", position: "insideBottom", offset: -2 }}
              />
              <YAxis width={60} />
              <Tooltip />
              <Legend />
              <Scatter dataKey="value" name="objective" fill="#2563eb" isAnimationActive={false} />
              <Line
                type="stepAfter"
                dataKey="best"
                name="best so far"
                stroke="#16a34a"
                dot={false}
                isAnimationActive={false}
              />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

/** An objective's value for a chart axis: seconds become milliseconds like everywhere else in the UI. */
export function objectiveAxis(objective: string | undefined): { name: string; unit: string; scale: number } {
  const info = objective ? OBJECTIVE_LABEL[objective] : undefined;
  if (!info) return { name: objective ?? "", unit: "", scale: 1 };
  return info.unit === "s"
    ? { name: info.label, unit: " ms", scale: 1000 }
    : { name: info.label, unit: ` ${info.unit}`, scale: 1 };
}

/** Multi-objective tasks: the first two objectives, the front as the tuner stored it (Experiment.pareto). */
export function ObjectivesParetoChart({
  experiments,
  objectives,
}: {
  experiments: Experiment[];
  objectives: string[];
}) {
  const [ax, ay] = [objectiveAxis(objectives[0]), objectiveAxis(objectives[1])];
  const pts = done(experiments)
    .map((e) => ({
      number: e.number,
      pareto: e.pareto,
      x: (e.objective_values?.[0] ?? NaN) * ax.scale,
      y: (e.objective_values?.[1] ?? NaN) * ay.scale,
    }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const front = pts.filter((p) => p.pareto).sort((a, b) => a.x - b.x);
  const others = pts.filter((p) => !p.pareto);
  return (
    <Card title={`${ax.name} vs ${ay.name} (Pareto front marked)`}>
      {pts.length === 0 ? (
        <Empty>Waiting for measured experiments.</Empty>
      ) : (
        <div data-testid="chart-pareto" data-front={front.length} style={{ height: H }}>
          <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL}>
            <ScatterChart>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis type="number" dataKey="x" name={ax.name} unit={ax.unit} />
              <YAxis type="number" dataKey="y" name={ay.name} unit={ay.unit} />
              <Tooltip cursor={{ strokeDasharray: "3 3" }} />
              <Legend />
              <Scatter name="experiments" data={others} fill="#94a3b8" isAnimationActive={false} />
              <Scatter
                name="Pareto front"
                data={front}
                fill="#dc2626"
                line={{ stroke: "#dc2626" }}
                isAnimationActive={false}
              />
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

export function ThroughputLatencyChart({
  experiments,
  objectives = [],
}: {
  experiments: Experiment[];
  objectives?: string[];
}) {
  if (objectives.length >= 2) return <ObjectivesParetoChart experiments={experiments} objectives={objectives} />;
  const pts = done(experiments)
    .map((e) => ({
      number: e.number,
      x: (fig(e.figures, "mean_e2e_latency") ?? NaN) * 1000,
      y: fig(e.figures, "total_throughput") ?? NaN,
    }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const front = paretoFront(pts).map((i) => pts[i]!);
  const others = pts.filter((p) => !front.includes(p));
  return (
    <Card title="Throughput vs latency (Pareto front marked)">
      {pts.length === 0 ? (
        <Empty>Waiting for measured experiments.</Empty>
      ) : (
        <div data-testid="chart-pareto" style={{ height: H }}>
          <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL}>
            <ScatterChart>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis type="number" dataKey="x" name="mean E2E latency" unit=" ms" />
              <YAxis type="number" dataKey="y" name="throughput" unit=" tok/s" />
              <Tooltip cursor={{ strokeDasharray: "3 3" }} />
              <Legend />
              <Scatter name="experiments" data={others} fill="#94a3b8" isAnimationActive={false} />
              <Scatter
                name="Pareto front"
                data={front}
                fill="#dc2626"
                line={{ stroke: "#dc2626" }}
                isAnimationActive={false}
              />
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

/** TTFT and TPOT each on its own millisecond axis: TPOT is often 10-100x smaller than TTFT, and its bars vanish
 * beside TTFT's on one axis. */
export function TtftTpotChart({ experiments }: { experiments: Experiment[] }) {
  const data = done(experiments).map((e) => ({
    number: e.number,
    ttft: msOf(fig(e.figures, "mean_ttft")),
    tpot: msOf(fig(e.figures, "mean_tpot")),
  }));
  const one = (key: "ttft" | "tpot", name: string, color: string) => (
    <div data-testid={`chart-${key}`} style={{ height: H / 2 + 20 }}>
      <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: INITIAL.width, height: H / 2 + 20 }}>
        <BarChart data={data} syncId="ttft-tpot">
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="number" />
          <YAxis unit=" ms" width={70} />
          <Tooltip />
          <Bar dataKey={key} name={name} fill={color} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
  return (
    <Card title="Mean TTFT and mean TPOT per experiment (ms, each on its own axis)">
      {data.length === 0 ? (
        <Empty>Waiting for measured experiments.</Empty>
      ) : (
        <div>
          <div className="text-xs text-amber-700">mean TTFT</div>
          {one("ttft", "mean TTFT", "#f59e0b")}
          <div className="text-xs text-violet-700">mean TPOT</div>
          {one("tpot", "mean TPOT", "#8b5cf6")}
        </div>
      )}
    </Card>
  );
}

function msOf(seconds: number | null): number | null {
  return seconds === null ? null : seconds * 1000;
}

export function PerGpuChart({ experiments }: { experiments: Experiment[] }) {
  const data = done(experiments).map((e) => ({
    number: e.number,
    perGpu: fig(e.figures, "per_gpu_throughput") ?? 0,
    gpus: gpusOf(e),
  }));
  return (
    <Card title="Per-GPU efficiency (tok/s per GPU)">
      {data.length === 0 ? (
        <Empty>Waiting for measured experiments.</Empty>
      ) : (
        <div data-testid="chart-per-gpu" style={{ height: H }}>
          <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL}>
            <BarChart data={data}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="number" />
              <YAxis />
              <Tooltip />
              <Bar dataKey="perGpu" name="tok/s/GPU" fill="#0ea5e9" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}
