// Typed API client: openapi-fetch over the schema generated from the FastAPI app (`npm run gen:api`).
import createClient from "openapi-fetch";
import type { Readable } from "openapi-typescript-helpers";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Task = Schemas["TaskPublic"];
export type Experiment = Schemas["ExperimentPublic"];
export type Preset = Schemas["PresetPublic"];
export type Flag = Schemas["FlagPublic"];
export type EngineInfo = Schemas["EnginePublic"];
export type Problem = Schemas["Problem"];
// as openapi-fetch returns it (Readable<> turns the (number, value) tuples into arrays)
export type TaskSummary = Readable<Schemas["TaskSummary"]>;
export type ValueStats = Schemas["ValueStats"];
export type Gain = Schemas["Gain"];
export type Explained = Schemas["ExplainResult"];
export type Importance = Schemas["ParamImportance"];

export const api = createClient<paths>({ baseUrl: typeof window === "undefined" ? "http://localhost" : "" });

/** An API error: the message, the server's hint, and per-field problems (422) keyed by dotted path. */
export class ApiError extends Error {
  status: number;
  hint: string | null;
  problems: Problem[];
  constructor(status: number, message: string, hint: string | null = null, problems: Problem[] = []) {
    super(message);
    this.status = status;
    this.hint = hint;
    this.problems = problems;
  }
}

type ErrorLike = { detail?: string | Problem[]; hint?: string | null } | undefined | unknown;

export function toApiError(status: number, body: ErrorLike): ApiError {
  const b = (body ?? {}) as { detail?: unknown; hint?: string | null };
  if (Array.isArray(b.detail)) {
    const problems = b.detail as Problem[];
    const msg = problems.map((p) => `${p.path || p.loc.join(".")}: ${p.msg}`).join("; ");
    return new ApiError(status, msg || `HTTP ${status}`, b.hint ?? null, problems);
  }
  if (typeof b.detail === "string") return new ApiError(status, b.detail, b.hint ?? null);
  return new ApiError(status, `HTTP ${status}`);
}

/** Unwrap an openapi-fetch result: the data, or throw an ApiError. */
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await p;
  if (!response.ok || error !== undefined) throw toApiError(response.status, error);
  return data as T;
}

/** Fetch raw text (logs, YAML). */
export async function getText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) {
    let body: unknown;
    try {
      body = await r.json();
    } catch {
      body = undefined;
    }
    throw toApiError(r.status, body);
  }
  return r.text();
}

/** Create a task from a spec object (JSON) or YAML text. */
export async function createTask(spec: Record<string, unknown> | string, start: boolean): Promise<Task> {
  const yaml = typeof spec === "string";
  const r = await fetch(`/api/tasks/?start=${start}`, {
    method: "POST",
    headers: { "Content-Type": yaml ? "application/yaml" : "application/json" },
    body: yaml ? spec : JSON.stringify(spec),
  });
  const body: unknown = await r.json().catch(() => undefined);
  if (!r.ok) throw toApiError(r.status, body);
  return body as Task;
}

/**
 * What a draft spec launches: each configuration with its engine argv, from the API's own mapping
 * (POST /api/specs/explain, the same `explain` as the CLI). Nothing is stored; a spec problem is an ApiError (422).
 */
export async function explainSpec(
  spec: Record<string, unknown>,
  limit: number,
  signal?: AbortSignal,
): Promise<Explained> {
  const r = await fetch(`/api/specs/explain?limit=${limit}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(spec),
    signal,
  });
  const body: unknown = await r.json().catch(() => undefined);
  if (!r.ok) throw toApiError(r.status, body);
  return body as Explained;
}
