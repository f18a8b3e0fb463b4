import { useEffect, useRef, useState } from "react";
import { getText } from "../api/client";
import { Card, ErrorBox } from "./States";

/** The task log: loaded once, then followed live through Server-Sent Events while `follow` is on. */
export function LogViewer({ taskId }: { taskId: number }) {
  const [lines, setLines] = useState<string[]>([]);
  const [follow, setFollow] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (follow) {
      // SSE replays the whole log, then streams new lines until the task stops.
      setLines([]);
      const es = new EventSource(`/api/tasks/${taskId}/logs?follow=true`);
      es.onmessage = (m: MessageEvent) => setLines((l) => [...l.slice(-4999), String(m.data)]);
      es.addEventListener("end", () => es.close());
      es.onerror = () => es.close();
      return () => es.close();
    }
    let live = true;
    getText(`/api/tasks/${taskId}/logs`)
      .then((t) => {
        if (live) setLines((JSON.parse(t) as { logs: string }).logs.split("\n"));
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [taskId, follow]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  return (
    <Card
      title="Task log"
      actions={
        <label className="flex items-center gap-1 text-xs text-slate-600">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
      }
    >
      {error !== null && <ErrorBox error={error} />}
      <pre
        ref={box}
        data-testid="task-log"
        className="h-64 overflow-auto rounded bg-slate-900 p-2 text-xs leading-5 text-slate-100"
      >
        {lines.length ? lines.join("\n") : "(no log lines yet)"}
      </pre>
    </Card>
  );
}
