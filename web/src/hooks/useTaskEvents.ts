// Live task events over the WebSocket /api/ws/tasks/{id}: keeps the status and the running experiment's progress,
// and refreshes the task and experiment queries when an experiment or the task finishes (no polling).
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { Schemas } from "../api/client";
import { keys } from "../api/hooks";

// The event types are generated from the server's models (runner/events.py, published in openapi.json).
export type TaskEvent = Schemas["TaskEvent"];

export interface LiveState {
  connected: boolean;
  status: string | null;
  running: { number: number; params: Record<string, unknown>; phase: string; done?: number; total?: number } | null;
  events: TaskEvent[];
}

type SocketFactory = (url: string) => WebSocket;

const defaultFactory: SocketFactory = (url) => new WebSocket(url);

export function wsUrl(taskId: number, loc: Location = window.location): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${loc.host}/api/ws/tasks/${taskId}`;
}

export function reduceEvent(state: LiveState, ev: TaskEvent): LiveState {
  const events = [...state.events.slice(-199), ev];
  switch (ev.type) {
    case "task_status":
      return { ...state, events, status: ev.status, running: ev.status === "running" ? state.running : null };
    case "experiment_started":
      return { ...state, events, running: { number: ev.number, params: ev.params, phase: "starting engine" } };
    case "engine_ready":
      return state.running
        ? { ...state, events, running: { ...state.running, phase: "engine ready" } }
        : { ...state, events };
    case "run_started": // `level` comes from the server (runner/events.py): concurrency or request rate, never c=null
      return state.running
        ? {
            ...state,
            events,
            running: {
              ...state.running,
              phase: `benchmark ${ev.scenario} at ${ev.level}`,
              done: undefined,
              total: undefined,
            },
          }
        : { ...state, events };
    case "run_progress":
      return state.running
        ? { ...state, events, running: { ...state.running, done: ev.done, total: ev.total } }
        : { ...state, events };
    case "experiment_finished":
      return { ...state, events, running: null };
    case "task_finished":
      return { ...state, events, status: ev.status, running: null };
    default:
      return { ...state, events };
  }
}

const REFRESH = new Set(["task_status", "task_started", "experiment_started", "experiment_finished", "task_finished"]);

export function useTaskEvents(taskId: number, factory: SocketFactory = defaultFactory): LiveState {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>({ connected: false, status: null, running: null, events: [] });
  const factoryRef = useRef(factory);

  useEffect(() => {
    let closed = false;
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    const connect = () => {
      socket = factoryRef.current(wsUrl(taskId));
      socket.onopen = () => {
        delay = 500;
        setState((s) => ({ ...s, connected: true }));
      };
      socket.onmessage = (msg: MessageEvent) => {
        let ev: TaskEvent;
        try {
          ev = JSON.parse(String(msg.data)) as TaskEvent;
        } catch {
          return;
        }
        setState((s) => reduceEvent(s, ev));
        if (REFRESH.has(ev.type)) {
          void qc.invalidateQueries({ queryKey: keys.task(taskId) });
          void qc.invalidateQueries({ queryKey: keys.experiments(taskId) });
          void qc.invalidateQueries({ queryKey: keys.tasks });
        }
      };
      socket.onclose = (e: CloseEvent) => {
        setState((s) => ({ ...s, connected: false }));
        if (!closed && e.code !== 1008) {
          retry = setTimeout(connect, delay);
          delay = Math.min(delay * 2, 10000);
        }
      };
    };
    connect();
    return () => {
      closed = true;
      if (retry) clearTimeout(retry);
      socket?.close();
    };
  }, [taskId, qc]);

  return state;
}
