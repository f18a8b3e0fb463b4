// Display helpers. Storage is in seconds; the UI shows milliseconds.

export function ms(seconds: number | null | undefined, digits = 1): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  return `${(seconds * 1000).toFixed(digits)} ms`;
}

export function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function secs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return v < 60 ? `${v.toFixed(1)} s` : `${Math.floor(v / 60)} min ${Math.round(v % 60)} s`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso.endsWith("Z") || iso.includes("+") ? iso : `${iso}Z`);
  return d.toLocaleString();
}

export function paramsText(params: Record<string, unknown> | null | undefined): string {
  if (!params) return "";
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
}

/** Figure of an experiment's figures dict as a number (or null). */
export function fig(figures: Record<string, unknown> | null | undefined, key: string): number | null {
  const v = figures?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** An objective value with its unit; seconds are shown in milliseconds like the rest of the UI. */
export function objective(value: number | null | undefined, unit: string | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (unit === "s") return ms(value, 1);
  return unit ? `${num(value, 2)} ${unit}` : num(value, 2);
}
