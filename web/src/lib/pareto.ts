// Pareto front for "throughput (higher is better) vs latency (lower is better)".

export interface Point {
  x: number; // latency, lower is better
  y: number; // throughput, higher is better
}

/** Indices of the points no other point dominates (at least as good on both, strictly better on one). */
export function paretoFront(points: Point[]): number[] {
  const out: number[] = [];
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
    if (!dominated) out.push(i);
  });
  return out.sort((a, b) => (points[a]?.x ?? 0) - (points[b]?.x ?? 0));
}
